using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lstp.Admin.Dashboard;
using Lstp.Protocol;
using Lstp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Admin.Tests.Dashboard;

/// <summary>The pieces behind the dashboard: rates, the recent-error ring, the page and its policy, the event stream.</summary>
public sealed partial class FeedTests(ITestOutputHelper output)
{
    [Fact]
    public void Rates_are_bytes_per_second_between_two_samples_and_forget_closed_tunnels()
    {
        var rates = new TrafficRates();
        rates.Sample([("t1", 1000, 0)], TimeSpan.Zero);
        Assert.Equal(default, rates.Of("t1"));
        rates.Sample([("t1", 3000, 500), ("t2", 10, 10)], TimeSpan.FromSeconds(2));
        Assert.Equal(new TrafficRates.Rate(1000, 250), rates.Of("t1"));
        Assert.Equal(default, rates.Of("t2"));
        rates.Sample([("t2", 110, 10)], TimeSpan.FromSeconds(1));
        Assert.Equal(default, rates.Of("t1"));
        Assert.Equal(new TrafficRates.Rate(100, 0), rates.Of("t2"));
    }

    [Fact]
    public void The_error_ring_keeps_the_newest_and_stays_bounded()
    {
        var errors = new RecentErrors(capacity: 3);
        var at = DateTimeOffset.UnixEpoch;
        foreach (var code in new[] { ErrorCode.BadPreamble, ErrorCode.AdmissionDenied, ErrorCode.SetupTimeout, ErrorCode.WaitExpired })
        {
            errors.Record(code, 1, null, null, at);
        }
        Assert.Equal(["WaitExpired", "SetupTimeout", "AdmissionDenied"], errors.Snapshot().Select(e => e.Code));
    }

    [Fact]
    public void Growth_in_the_error_counters_becomes_entries_with_their_codes_and_counts()
    {
        var errors = new RecentErrors();
        var at = DateTimeOffset.UnixEpoch;
        errors.SampleCounts(new Dictionary<ErrorCode, long> { [ErrorCode.RateLimited] = 2 }, at);
        errors.SampleCounts(new Dictionary<ErrorCode, long> { [ErrorCode.RateLimited] = 2 }, at);
        errors.SampleCounts(new Dictionary<ErrorCode, long> { [ErrorCode.RateLimited] = 5, [ErrorCode.Malformed] = 1 }, at);
        var entries = errors.Snapshot();
        Assert.Equal([("RateLimited", 13, 3), ("Malformed", 5, 1), ("RateLimited", 13, 2)], entries.Select(e => (e.Code, e.Number, e.Count)));
    }

    [Fact]
    public async Task The_page_is_served_with_a_policy_that_allows_exactly_its_own_script_and_style()
    {
        await using var middle = await MiddleHost.StartAsync(new Middle.MiddleOptions { Listen = new("127.0.0.1", 0), Admin = new("127.0.0.1", 0) }, new TestLog(output));
        using var http = new HttpClient();
        using var response = await http.GetAsync($"http://{middle.AdminAddress}/");
        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        var policy = string.Join(' ', response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", policy, StringComparison.Ordinal);
        Assert.Contains($"'sha256-{Hash(Script().Match(html).Groups[1].Value)}'", policy, StringComparison.Ordinal);
        Assert.Contains($"'sha256-{Hash(Style().Match(html).Groups[1].Value)}'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("innerHTML", html, StringComparison.Ordinal);
        Assert.DoesNotMatch("(src|href)=\"(https?:)?//", html); // nothing loaded from elsewhere
    }

    [Fact]
    public async Task The_event_stream_pushes_the_status_every_tick()
    {
        await using var middle = await MiddleHost.StartAsync(new Middle.MiddleOptions { Listen = new("127.0.0.1", 0), Admin = new("127.0.0.1", 0), Name = "ticking" }, new TestLog(output));
        using var http = new HttpClient();
        using var response = await http.GetAsync($"http://{middle.AdminAddress}/api/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var messages = new List<(DateTime At, string Data)>();
        while (messages.Count < 3 && await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal)) messages.Add((DateTime.UtcNow, line[6..]));
        }
        Assert.All(messages, m => Assert.Contains("\"node\":\"ticking\"", m.Data, StringComparison.Ordinal));
        // The first message comes at once; the next ones a tick apart.
        Assert.InRange((messages[2].At - messages[1].At).TotalSeconds, 0.5, 2.5);
    }

    [Fact]
    public async Task A_cluster_lists_its_members_with_this_node_first_and_standalone_lists_this_node_alone()
    {
        await using var middle = await MiddleHost.StartAsync(new Middle.MiddleOptions { Listen = new("127.0.0.1", 0), Admin = new("127.0.0.1", 0), Name = "node-b" }, new TestLog(output));
        using var http = new HttpClient { BaseAddress = new Uri($"http://{middle.AdminAddress}") };
        var alone = JsonNode.Parse(await http.GetStringAsync("/api/status"))!["cluster"]!;
        Assert.Equal("standalone", alone["mode"]!.GetValue<string>());
        Assert.Equal("node-b", Assert.Single(alone["members"]!.AsArray())!["name"]!.GetValue<string>());

        middle.ShowCluster(() => [new("node-c", "10.0.0.3:7700", "c"), new("node-b", middle.Node.Self.Address, "b"), new("node-a", "10.0.0.1:7700", "a")]);
        var cluster = JsonNode.Parse(await http.GetStringAsync("/api/status"))!["cluster"]!;
        Assert.Equal("cluster", cluster["mode"]!.GetValue<string>());
        var members = cluster["members"]!.AsArray();
        Assert.Equal(["node-b", "node-a", "node-c"], members.Select(m => m!["name"]!.GetValue<string>()));
        Assert.True(members[0]!["self"]!.GetValue<bool>());
        Assert.All(members, m => Assert.Equal("up", m!["health"]!.GetValue<string>()));
        Assert.Null(members[1]!["tunnels"]);
    }

    private static string Hash(string text) => Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    [GeneratedRegex("<script>(.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex Script();

    [GeneratedRegex("<style>(.*?)</style>", RegexOptions.Singleline)]
    private static partial Regex Style();
}
