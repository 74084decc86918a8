/** Parsers for CLI flag values: a bad value is an error that names the flag and what it expects. */
import { InvalidArgumentError } from "commander";

export function parseIntFlag(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `expected an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? "∞" : max}], got '${value}'`,
      );
    }
    return n;
  };
}

export function parseChoice<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`expected one of ${choices.join(", ")}, got '${value}'`);
    }
    return value as T;
  };
}

export function parseFloatFlag(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a number in [${min}, ${max}], got '${value}'`);
    }
    return n;
  };
}
