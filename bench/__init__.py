"""`make bench`: teller's throughput next to the limits measured on this machine, in this run.

Each figure is printed beside a limit measured on this machine in the same run, as a ratio:

- bind requests/s (POST /api/bind) and deposits/s to `done` vs durable SQLite commits/s
  (a bare INSERT + COMMIT loop, WAL, synchronous=FULL, in the same temporary directory);
- status requests/s (GET /api/status) vs a bare ASGI JSON endpoint served by the same
  uvicorn settings and driven by the same load generator.

Teller runs as a real separate process (`teller -c <config> -d <dir>`) on free loopback
ports; the load generator is wrk (bench/install-tools.sh apt-gets it when missing).
Modules: wrk (load generator), sqlite_limit, baseline (bare ASGI app), addresses (pools),
teller_proc (config, start, stop), procs (ports, CPU time, HTTP polling), scenarios
(the measurements), report (table and JSON).
"""
