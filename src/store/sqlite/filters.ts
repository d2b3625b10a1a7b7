/**
 * Builds a WHERE clause from optional filters: a condition is added only when its value is given, and
 * values only ever travel as parameters.
 */
export class Filters {
  private readonly conditions: string[] = [];
  readonly params: unknown[] = [];

  constructor(...always: string[]) {
    this.conditions.push(...always);
  }

  /** Adds `condition` (with one `?` per value) when the first value is not undefined. */
  add(condition: string, ...values: unknown[]): this {
    if (values[0] === undefined) return this;
    this.conditions.push(condition);
    this.params.push(...values);
    return this;
  }

  /** Adds `column IN (…)` when `values` is given. */
  addIn(column: string, values: readonly unknown[] | undefined): this {
    if (values === undefined) return this;
    this.conditions.push(values.length ? `${column} IN (${values.map(() => '?').join(', ')})` : 'FALSE');
    this.params.push(...values);
    return this;
  }

  get where(): string {
    return this.conditions.length ? `WHERE ${this.conditions.join(' AND ')}` : '';
  }
}
