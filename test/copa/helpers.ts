/** Shared settings of the COPA tests. */

/** Small networks (`--set` overrides) so that the jitted programs compile and run quickly. */
export const SMALL_NETS = [
  "agent.attnEmbedDim=16",
  "agent.attnNHeads=2",
  "agent.rnnHiddenDim=8",
  "mixer.hypernetEmbed=16",
  "mixer.mixingEmbedDim=8",
];
