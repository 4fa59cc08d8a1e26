#:project ../../src/Lstp.Tunnel/Lstp.Tunnel.csproj
#:property PublishAot=false

// Pairing rate load: opens N pairs of raw end links (preamble, COMMONUNIQUE_INFO, TOPOLOGY_EXCHANGE; no
// end-to-end handshake, so only the middles' pairing work is timed), C pairs in flight at a time. End "a" of
// each pair dials --a, end "b" dials --b: the same middle, two nodes of one cluster, or a standalone middle.
// Prints one JSON line: pairs, seconds, pairs per second, p50/p99 of a pair's time to be paired.
//   dotnet run bench/cluster/pairings.cs -- --a 127.0.0.1:7701 --b 127.0.0.1:7702 --pairs 2000 --concurrency 64

using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Security;
using Lstp.Tunnel.Session;

var options = args.Select((a, i) => (a, i)).Where(p => p.a.StartsWith("--", StringComparison.Ordinal)).ToDictionary(p => p.a[2..], p => args[p.i + 1]);
var a = HostPort.Parse(options["a"]);
var b = HostPort.Parse(options["b"]);
var pairs = int.Parse(options.GetValueOrDefault("pairs", "2000"), CultureInfo.InvariantCulture);
var concurrency = int.Parse(options.GetValueOrDefault("concurrency", "64"), CultureInfo.InvariantCulture);

async Task<double> PairAsync(int index)
{
    var secret = TunnelSecret.FromKey(RandomNumberGenerator.GetBytes(32));
    var ends = new[] { (a, new EndSetup(secret, $"bench-a-{index}", "bench", Plaintext: true)), (b, new EndSetup(secret, $"bench-b-{index}", "bench", Plaintext: true)) };
    var started = Stopwatch.GetTimestamp();
    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
    var links = await Task.WhenAll(ends.Select(e => MiddleLink.RegisterAsync(TcpDialer.Instance, e.Item1, e.Item2.Info(), e.Item2.Topology("local"),
        token: null, LinkTimings.Default, TimeProvider.System, onWaiting: null, timeout.Token)));
    var took = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    foreach (var (relay, _) in links) await relay.DisposeAsync();
    return took;
}

// Warm up (JIT on both sides, connection pools), then measure.
for (var i = 0; i < Math.Min(200, pairs); i += concurrency) await Task.WhenAll(Enumerable.Range(i, concurrency).Select(j => PairAsync(-1 - j)));
var times = new double[pairs];
var next = -1;
var clock = Stopwatch.StartNew();
await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
{
    int i;
    while ((i = Interlocked.Increment(ref next)) < pairs) times[i] = await PairAsync(i);
}));
var seconds = clock.Elapsed.TotalSeconds;
Array.Sort(times);
double P(double q) => times[Math.Clamp((int)Math.Ceiling(q * times.Length) - 1, 0, times.Length - 1)];
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{{\"pairs\": {pairs}, \"concurrency\": {concurrency}, \"seconds\": {seconds:0.###}, \"pairs_per_second\": {pairs / seconds:0.#}, \"p50_ms\": {P(0.5):0.##}, \"p99_ms\": {P(0.99):0.##}}}"));
