using Xunit;

// Scenarios start whole tunnels (middles, ends, TLS handshakes, keepalive clocks) on real sockets. Run in
// parallel on a 2-core machine they starve each other's timers and make timing-sensitive assertions flaky,
// so the scenario classes run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
