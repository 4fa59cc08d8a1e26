using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Lab.Tests;

/// <summary>
/// A corporate proxy that says no: the end logs one clear line per attempt that names the cause, and backs off
/// (jittered exponential) instead of hammering the proxy. Each case watches one end for <see cref="Watch"/>.
/// </summary>
[Collection(LabCollection.Name)]
public sealed partial class ProxyFailureTests(LabFixture lab, ITestOutputHelper output)
{
    private static readonly TimeSpan Watch = TimeSpan.FromSeconds(15);

    /// <summary>Backoff from 0.25 s doubling (±50 %) allows at most 8 attempts in 15 s; a tight loop makes hundreds.</summary>
    private const int MaxAttempts = 10;

    private const string WrongPassword = "not-the-lab-password";

    [Fact]
    public Task Wrong_SOCKS5_password_gives_one_clear_error_per_attempt_and_bounded_retries() =>
        LabScenario.RunAsync(lab, output, nameof(Wrong_SOCKS5_password_gives_one_clear_error_per_attempt_and_bounded_retries), async s =>
        {
            await s.StartMiddlesAsync();
            var end = s.StartClientEnd(via: LabScenario.ViaB(WrongPassword));
            await Expect(s, end, new Regex(@"SOCKS5 proxy 10\.77\.2\.1:1080 rejected the credentials lab:\*\*\*"));
        });

    [Fact]
    public Task SOCKS5_proxy_down_gives_one_clear_error_per_attempt_and_bounded_retries() =>
        LabScenario.RunAsync(lab, output, nameof(SOCKS5_proxy_down_gives_one_clear_error_per_attempt_and_bounded_retries), async s =>
        {
            await s.StartMiddlesAsync();
            await Run.LabAsync("proxy", "corpb", "stop");
            try
            {
                var end = s.StartClientEnd();
                await Expect(s, end, new Regex(@"cannot reach SOCKS5 proxy 10\.77\.2\.1:1080: ConnectionRefused"));
            }
            finally
            {
                await Run.LabAsync("proxy", "corpb", "start");
            }
        });

    [Fact]
    public Task HTTP_proxy_refusing_the_middle_port_gives_one_clear_error_per_attempt_and_bounded_retries() =>
        LabScenario.RunAsync(lab, output, nameof(HTTP_proxy_refusing_the_middle_port_gives_one_clear_error_per_attempt_and_bounded_retries), async s =>
        {
            await s.StartMiddlesAsync();
            // The strict tinyproxy allows CONNECT to port 443 only, as many corporate proxies do.
            var strict = $"http://{LabPaths.Get("LAB_PROXYA_INSIDE")}:{LabPaths.Get("LAB_PROXYA_STRICT_PORT")}";
            var end = s.StartServerEnd(via: strict);
            await Expect(s, end, new Regex(@"HTTP proxy 10\.77\.1\.1:8889 refused CONNECT to 10\.77\.0\.1[01]:\d+: HTTP/1\.[01] 403"));
        });

    [Fact]
    public Task SOCKS5_proxy_that_cannot_reach_the_middle_gives_one_clear_error_per_attempt_and_bounded_retries() =>
        LabScenario.RunAsync(lab, output, nameof(SOCKS5_proxy_that_cannot_reach_the_middle_gives_one_clear_error_per_attempt_and_bounded_retries), async s =>
        {
            // No middle runs: microsocks gets "connection refused" from the internet and says so in its reply.
            var end = s.StartClientEnd();
            await Expect(s, end, new Regex(@"SOCKS5 proxy 10\.77\.2\.1:1080 could not connect to 10\.77\.0\.1[01]:\d+: \S"));
        });

    [GeneratedRegex(@"^\d\d:\d\d:\d\d(\.\d+)? (warn|fail|crit|error|warning)\b", RegexOptions.IgnoreCase)]
    private static partial Regex WarningOrWorse();

    [GeneratedRegex(@"reconnecting in (?<s>[0-9.]+) s")]
    private static partial Regex ReconnectingIn();

    private static async Task Expect(LabScenario s, LabProcess end, Regex cause)
    {
        var started = DateTimeOffset.UtcNow;
        await end.WaitForLineAsync(cause, TimeSpan.FromSeconds(30), $"an error naming the cause /{cause}/");
        var left = started + Watch - DateTimeOffset.UtcNow;
        if (left > TimeSpan.Zero) await Task.Delay(left);

        var lines = end.Lines.Where(l => l.At <= started + Watch).ToList();
        var attempts = lines.Where(l => cause.IsMatch(l.Text)).ToList();
        var warnings = lines.Where(l => WarningOrWorse().IsMatch(l.Text)).ToList();
        var gaps = attempts.Zip(attempts.Skip(1), (a, b) => (b.At - a.At).TotalSeconds).ToList();
        s.Say($"{attempts.Count} attempts in {Watch.TotalSeconds:0} s; gaps between them: " +
            string.Join(", ", gaps.Select(g => g.ToString("0.00", CultureInfo.InvariantCulture))) + " s");
        s.Say($"first error line: {attempts.FirstOrDefault()?.Text}");

        Assert.False(end.HasExited, $"the end exited (code {end.ExitCode}) instead of retrying");
        Assert.True(attempts.Count >= 2, $"expected the end to keep retrying; saw {attempts.Count} attempt(s)");
        Assert.True(attempts.Count < MaxAttempts, $"{attempts.Count} attempts in {Watch.TotalSeconds:0} s: retries are not backed off");
        // One clear line per attempt: every warning is such a line, and nothing else (no stack traces) is printed.
        var other = warnings.Where(w => !cause.IsMatch(w.Text)).ToList();
        Assert.True(other.Count == 0, "warnings that do not name the cause:\n" + string.Join('\n', other));
        var noise = lines.Where(l => l.Text.StartsWith("   at ", StringComparison.Ordinal) || l.Text.Contains("Exception:", StringComparison.Ordinal)).ToList();
        Assert.True(noise.Count == 0, "stack traces in the log:\n" + string.Join('\n', noise.Take(10)));
        Assert.DoesNotContain(lines, l => l.Text.Contains(WrongPassword, StringComparison.Ordinal) || l.Text.Contains(LabPaths.Get("LAB_PROXYB_PASSWORD"), StringComparison.Ordinal));
        // The announced delays grow (exponential backoff, jittered): the last is longer than the first.
        var delays = attempts.Select(a => ReconnectingIn().Match(a.Text)).Where(m => m.Success)
            .Select(m => double.Parse(m.Groups["s"].Value, CultureInfo.InvariantCulture)).ToList();
        if (delays.Count >= 3)
            Assert.True(delays[^1] > delays[0], $"the backoff does not grow: {string.Join(", ", delays)}");
    }
}
