/** Reads one row past the page to know whether another page follows. */
export function toPage<Row, Item>(rows: Row[], limit: number, item: (row: Row) => Item, cursorOf: (row: Row) => string) {
  const page = rows.slice(0, limit);
  return { data: page.map(item), nextCursor: rows.length > limit ? cursorOf(page.at(-1)!) : null };
}
