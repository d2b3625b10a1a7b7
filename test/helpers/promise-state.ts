/** Lets every promise settled so far run its reactions (and anything they queue in the same turn). */
export const settle = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** A promise's state as it stands, for asserting that something has not happened yet. */
export function tracked<T>(promise: Promise<T>): { done: boolean; value: T | undefined; error: unknown } {
  const state = { done: false, value: undefined as T | undefined, error: null as unknown };
  promise.then(
    (value) => {
      state.done = true;
      state.value = value;
    },
    (err: unknown) => {
      state.error = err;
    },
  );
  return state;
}
