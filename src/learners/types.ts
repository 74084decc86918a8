/**
 * What the training loop needs from a learner. The loop (src/run/train.ts) reads top to bottom
 * like spec §15.1; everything numerical sits behind this interface so the engine can be swapped.
 */
import type { WindowBatch } from "../buffer/replay.js";
import type { NamedTensor } from "../run/checkpoint.js";
import type { ActingBatch, UtilityFunction } from "../runners/acting.js";
import type { Allocator } from "../runners/allocators.js";

export interface TrainContext {
  /** `t_env` after the latest collection run. */
  tEnv: number;
  /** Training episodes collected so far (`episode`, drives target updates, §14). */
  episode: number;
}

export interface Learner extends UtilityFunction {
  /** Utilities [B, Na, A] for acting (greedy part of ε-greedy). */
  utilities(batch: ActingBatch): Promise<Float32Array>;
  /** One low-level gradient step (§11) plus the target-update check (§14); returns logged metrics. */
  train(batch: WindowBatch, ctx: TrainContext): Promise<Record<string, number>>;
  /** The learned allocator (AQL, §8) when the method has one, else undefined. */
  readonly allocator?: Allocator & {
    /** One allocation training step (§12) on a recency-filtered batch. */
    train(batch: WindowBatch, ctx: TrainContext): Promise<Record<string, number>>;
  };
  /** Everything needed to resume: parameters, targets, optimiser state, Pop-Art statistics, keys. */
  saveTensors(): Promise<Record<string, NamedTensor>>;
  /** Restore from `saveTensors` output; throws naming a missing or mis-shaped tensor. */
  loadTensors(tensors: Record<string, NamedTensor>): void;
  /** Replace only the low-level agent network (joint-training study, §15.4). */
  loadAgentTensors?(tensors: Record<string, NamedTensor>): void;
  /** Release engine memory. */
  dispose(): void;
}
