// The container's health check (deploy/Dockerfile, HEALTHCHECK): exit 0 when this instance's
// /readyz answers 200, else 1. It reads PORT as tickql does (default 4000), so it follows the
// port the instance listens on. A ROLE=ingest instance listens on no port: give it no check.
const port = process.env.PORT || '4000';
try {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
  process.exit(response.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
