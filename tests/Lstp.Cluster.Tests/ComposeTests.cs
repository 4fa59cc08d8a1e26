using Lstp.Cluster.Tests.Support;
using Lstp.Testing;
using Lstp.Transport;
using Npgsql;
using Xunit.Abstractions;

namespace Lstp.Cluster.Tests;

/// <summary>
/// docker-compose.yml: it validates, and its topology works. No Docker engine runs here, so the second test runs
/// the file's own commands and environment as processes, with its host names rewritten to loopback ports.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ComposeTests(PostgresServer postgres, ITestOutputHelper output)
{
    private static readonly string[] Middles = ["middle-1", "middle-2", "middle-3"];

    [Fact]
    public async Task Compose_file_validates_with_docker_compose_config()
    {
        var (code, text) = await ComposeFile.ComposeAsync("config", "-q");
        Assert.True(code == 0, $"docker-compose config: {text}");

        var compose = await ComposeFile.LoadAsync();
        Assert.Equal(["client-end", "middle-1", "middle-2", "middle-3", "postgres", "server-end", "web"], compose.Services.EnumerateObject().Select(s => s.Name).Order());
        foreach (var service in compose.Services.EnumerateObject())
        {
            Assert.True(service.Value.TryGetProperty("healthcheck", out _), $"{service.Name} has no health check");
        }
        foreach (var middle in Middles)
        {
            var command = compose.Command(middle);
            Assert.Equal("middle", command[0]);
            Assert.Equal($"{middle}:7700", After(command, "--advertise"));
            Assert.StartsWith("Host=postgres;", compose.Environment(middle)["LSTP__MIDDLE__CLUSTER"], StringComparison.Ordinal);
        }
        foreach (var end in new[] { "server-end", "client-end" })
        {
            var seeds = After(compose.Command(end), "--middle").Split(',');
            Assert.Equal(Middles.Select(m => $"{m}:7700").Order(), seeds.Order());
        }
    }

    [Fact]
    public async Task Compose_topology_runs_as_processes_on_loopback()
    {
        var compose = await ComposeFile.LoadAsync();
        var database = await postgres.CreateDatabaseAsync();
        await using var web = new HttpTextServer("hello through the cluster\n");

        // Each host:port of the compose network becomes a loopback port of this machine.
        var links = Middles.ToDictionary(m => m, _ => new HostPort("127.0.0.1", Net.FreePort()));
        var admins = Middles.ToDictionary(m => m, _ => new HostPort("127.0.0.1", Net.FreePort()));
        var forwards = new Dictionary<string, HostPort> { ["0.0.0.0:8080"] = new("127.0.0.1", Net.FreePort()), ["0.0.0.0:15432"] = new("127.0.0.1", Net.FreePort()) };
        string Rewrite(string service, string arg)
        {
            foreach (var (middle, address) in links) arg = arg.Replace($"{middle}:7700", address.ToString(), StringComparison.Ordinal);
            if (links.TryGetValue(service, out var own)) arg = arg.Replace("0.0.0.0:7700", own.ToString(), StringComparison.Ordinal);
            if (admins.TryGetValue(service, out var admin)) arg = arg.Replace("127.0.0.1:7780", admin.ToString(), StringComparison.Ordinal);
            foreach (var (listen, address) in forwards) arg = arg.Replace(listen, address.ToString(), StringComparison.Ordinal);
            return arg.Replace("web:8000", $"127.0.0.1:{web.Port}", StringComparison.Ordinal)
                      .Replace("postgres:5432", $"127.0.0.1:{postgres.Port}", StringComparison.Ordinal);
        }
        Dictionary<string, string> Environment(string service) => compose.Environment(service).ToDictionary(
            e => e.Key, e => e.Key == "LSTP__MIDDLE__CLUSTER" ? database : Rewrite(service, e.Value));

        var processes = new List<LstpProcess>();
        try
        {
            foreach (var middle in Middles)
            {
                var process = LstpProcess.Start(Environment(middle), [.. compose.Command(middle).Select(a => Rewrite(middle, a))]);
                processes.Add(process);
                await process.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            }
            foreach (var end in new[] { "server-end", "client-end" })
            {
                processes.Add(LstpProcess.Start(Environment(end), [.. compose.Command(end).Select(a => Rewrite(end, a))]));
            }

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            foreach (var admin in admins.Values) Assert.Equal("ok\n", await http.GetStringAsync($"http://{admin}/healthz"));

            var body = await RetryAsync(() => http.GetStringAsync($"http://{forwards["0.0.0.0:8080"]}/"), "the web service answers through the client end's forward");
            Assert.Equal(web.Body, body);

            await using var db = new NpgsqlConnection($"Host=127.0.0.1;Port={forwards["0.0.0.0:15432"].Port};Username=postgres;Database=postgres;Timeout=5");
            await db.OpenAsync();
            await using var query = new NpgsqlCommand("SELECT 'db through the tunnel'", db);
            Assert.Equal("db through the tunnel", await query.ExecuteScalarAsync());

            var tunnels = 0;
            foreach (var (name, admin) in admins)
            {
                var json = await http.GetStringAsync($"http://{admin}/api/tunnels");
                output.WriteLine($"{name}: {json}");
                if (json.Contains("client-end", StringComparison.Ordinal)) tunnels++;
            }
            Assert.InRange(tunnels, 1, 2); // one middle, or two joined by one hop
        }
        finally
        {
            foreach (var process in processes)
            {
                if (process.HasExited) output.WriteLine(string.Join('\n', process.Lines));
                await process.DisposeAsync();
            }
        }
    }

    private static string After(IReadOnlyList<string> command, string flag) => command[command.ToList().IndexOf(flag) + 1];

    private static async Task<T> RetryAsync<T>(Func<Task<T>> attempt, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        while (true)
        {
            try
            {
                return await attempt();
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }
            catch (Exception ex)
            {
                throw new TimeoutException($"timed out waiting until {what}", ex);
            }
        }
    }
}
