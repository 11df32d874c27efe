/** POSTs a GraphQL query to a running tickql (an in-process app or a process tree) and returns the response's `data`; GraphQL errors throw. */
export async function queryData(app: { url(): string }, query: string): Promise<any> {
  const response = await fetch(app.url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  const body = (await response.json()) as { data?: any; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}
