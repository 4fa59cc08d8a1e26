using System.Net.Http.Headers;
using Lstp.Admin.Access;
using Lstp.Admin.End;
using Lstp.EndProxy;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Admin.Tests.Logs;

/// <summary>A whole scenario's log, captured line by line: it tells the story and holds no secret and no token.</summary>
public sealed class SecretsStayOutOfLogsTests(ITestOutputHelper output)
{
    private const string TunnelSecret = "tunnel-secret-c0ffee-91";
    private const string AdmissionToken = "admission-token-5a5a-17";
    private const string WrongAdmissionToken = "wrong-admission-token-ee-03";
    private const string AdminToken = "admin-token-b4d-22";
    private const string WrongAdminToken = "wrong-admin-token-9f-31";

    [Fact]
    public async Task A_whole_scenario_logs_pairing_channels_and_refusals_but_no_secret_or_token()
    {
        var log = new TestLog(output);
        await using var echo = new EchoServer();
        var middleOptions = new MiddleOptions
        {
            Listen = new HostPort("127.0.0.1", 0), Admin = new HostPort("0.0.0.0", 0), Name = "logged-middle", Tokens = [AdmissionToken],
        };
        await using var middle = await MiddleHost.StartAsync(middleOptions, log, new AdminAccess { Token = AdminToken });
        await using (var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address }, secret: TunnelSecret,
            client: o => o with { Token = AdmissionToken }, server: o => o with { Token = AdmissionToken }, existingMiddle: middle))
        {
            await rig.OpenAsync();
            await EchoTraffic.RoundTripAsync(rig.ForwardPort("echo"));

            // An end with the wrong admission token is refused (and logged), an operator uses the admin endpoint
            // with the token in the header and in the query, and someone tries a wrong admin token.
            await using (var intruder = EndProxyHost.Start(new EndOptions { Middles = [middle.LinkAddress], Secret = TunnelSecret, Name = "intruder", Token = WrongAdmissionToken }, log))
            {
                await Eventually.TrueAsync(() => middle.Node.Metrics.Errors.ContainsKey(Protocol.ErrorCode.AdmissionDenied), "the intruder is refused");
            }
            var admin = $"http://127.0.0.1:{middle.AdminAddress!.Value.Port}";
            using var http = new HttpClient();
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
            await http.GetStringAsync($"{admin}/api/status");
            await http.GetStringAsync($"{admin}/metrics");
            using var plain = new HttpClient();
            await plain.GetStringAsync($"{admin}/?token={AdminToken}");
            await plain.GetAsync($"{admin}/api/tunnels?token={WrongAdminToken}");
            using (var events = await plain.GetStreamAsync($"{admin}/api/events?token={AdminToken}"))
            using (var reader = new StreamReader(events))
            {
                while (await reader.ReadLineAsync() is { } line && !line.StartsWith("data: ", StringComparison.Ordinal))
                {
                }
            }
            await using var endAdmin = await EndAdmin.StartAsync(rig.Client, new HostPort("127.0.0.1", 0), log);
            await plain.GetStringAsync($"http://{endAdmin.Address}/api/end");
        }

        var lines = log.Lines.ToList();
        Assert.Contains(log.Events, e => e.Id.Id == 101); // paired
        Assert.Contains(log.Events, e => e.Id.Id == 400); // tunnel open
        Assert.Contains(log.Events, e => e.Id.Id == 201); // channel accepted
        Assert.Contains(log.Events, e => e.Id.Id == 103 && e.Message.Contains("AdmissionDenied", StringComparison.Ordinal));
        Assert.Contains(log.Events, e => e.Id.Id == 700); // the wrong admin token, refused
        foreach (var secret in new[] { TunnelSecret, AdmissionToken, WrongAdmissionToken, AdminToken, WrongAdminToken })
        {
            var leak = lines.FirstOrDefault(l => l.Contains(secret, StringComparison.Ordinal));
            Assert.True(leak is null, $"a log line holds a secret: {leak}");
        }
    }
}
