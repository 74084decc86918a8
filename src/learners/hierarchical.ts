/**
 * A low-level learner plus ALMA's learned allocator (AQL, spec §8, §12) as one `Learner`: the
 * training loop drives the low level through `train` and the allocator through `allocator.train`;
 * checkpoints hold both.
 */
import type { WindowBatch } from "../buffer/replay.js";
import type { NamedTensor } from "../run/checkpoint.js";
import type { ActingBatch } from "../runners/acting.js";
import type { AlmaAllocator } from "./alloc.js";
import type { Learner, TrainContext } from "./types.js";

export class HierarchicalLearner implements Learner {
  constructor(
    readonly low: Learner,
    readonly allocator: AlmaAllocator,
  ) {}

  utilities(batch: ActingBatch): Promise<Float32Array> {
    return this.low.utilities(batch);
  }

  train(batch: WindowBatch, ctx: TrainContext): Promise<Record<string, number>> {
    return this.low.train(batch, ctx);
  }

  async saveTensors(): Promise<Record<string, NamedTensor>> {
    return { ...(await this.low.saveTensors()), ...(await this.allocator.saveTensors()) };
  }

  loadTensors(tensors: Record<string, NamedTensor>): void {
    this.low.loadTensors(tensors);
    this.allocator.loadTensors(tensors);
  }

  loadAgentTensors(tensors: Record<string, NamedTensor>): void {
    if (!this.low.loadAgentTensors) throw new Error("the low-level learner cannot swap its actors");
    this.low.loadAgentTensors(tensors);
  }

  dispose(): void {
    this.low.dispose();
    this.allocator.dispose();
  }
}
