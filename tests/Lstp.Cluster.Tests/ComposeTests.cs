using System.Text.Json;
using Lstp.Cli.Configuration.Hocon;
using Lstp.Cluster.Tests.Support;
using Lstp.Testing;
using Lstp.Transport;
using Xunit.Abstractions;

namespace Lstp.Cluster.Tests;

/// <summary>
/// docker-compose.yml: it validates, and its topology works. No Docker engine runs here, so the second test runs
/// the file's own commands, environment and HOCON configs (hocon/compose/) as processes, with its host names
/// rewritten to loopback ports.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ComposeTests(ITestOutputHelper output)
{
    private static readonly string[] Middles = ["middle-1", "middle-2", "middle-3"];

    /// <summary>Where the cluster-cert service writes the certificate and the middles read it.</summary>
    private const string Certificate = "/certs/cluster.p12";

    [Fact]
    public async Task Compose_file_validates_with_docker_compose_config()
    {
        var (code, text) = await ComposeFile.ComposeAsync("config", "-q");
        Assert.True(code == 0, $"docker-compose config: {text}");

        var compose = await ComposeFile.LoadAsync();
        Assert.Equal(["client-end", "cluster-cert", "grafana", "middle-1", "middle-2", "middle-3", "prometheus", "server-end", "web"], compose.Services.EnumerateObject().Select(s => s.Name).Order());
        // Prometheus and Grafana run only when asked (`--profile observability`); everything else always.
        foreach (var service in compose.Services.EnumerateObject())
        {
            var profiles = service.Value.TryGetProperty("profiles", out var listed) ? listed.EnumerateArray().Select(p => p.GetString()).ToArray() : [];
            Assert.Equal(service.Name is "prometheus" or "grafana" ? ["observability"] : [], profiles);
        }
        foreach (var service in compose.Services.EnumerateObject().Where(s => s.Name != "cluster-cert"))
        {
            Assert.True(service.Value.TryGetProperty("healthcheck", out _), $"{service.Name} has no health check");
        }

        // A one-shot: a restart policy would run it again and again.
        Assert.False(compose.Services.GetProperty("cluster-cert").TryGetProperty("restart", out _), "cluster-cert has a restart policy");
        Assert.Contains($"lstp cluster-cert {Certificate}", compose.Entrypoint("cluster-cert")[^1], StringComparison.Ordinal);

        // Every middle reads the same HOCON file: the same seed list, in the same order, everywhere (the first seed
        // alone starts the cluster, so nodes that disagreed on it could start two); each announces its own endpoint.
        var middleConfig = Hocon("middle.conf");
        Assert.Equal(string.Join(',', Middles.Select(m => $"{m}:4053")), Text(middleConfig, "lstp.middle.cluster"));
        Assert.Equal(Certificate, Text(middleConfig, "lstp.middle.cluster-cert"));
        foreach (var middle in Middles)
        {
            var command = compose.Command(middle);
            Assert.Equal("middle", command[0]);
            Assert.Equal($"{ConfigDirectory}/middle.conf", After(command, "--config"));
            Assert.Equal($"{middle}:4053", After(command, "--advertise"));
            Assert.Equal(middle, After(command, "--name"));
            Assert.Contains(compose.Volumes(middle), v => v.Target == ConfigDirectory && v.Source == Path.Combine(ComposeFile.RepositoryRoot, "hocon", "compose"));
            var dependency = compose.Services.GetProperty(middle).GetProperty("depends_on").GetProperty("cluster-cert");
            Assert.Equal("service_completed_successfully", dependency.GetProperty("condition").GetString());
        }
        foreach (var end in new[] { "server-end", "client-end" })
        {
            Assert.Equal($"{ConfigDirectory}/{end}.conf", After(compose.Command(end), "--config"));
            var links = ((HoconArray)Hocon($"{end}.conf").At("lstp.end.middle")!).Items.Cast<HoconScalar>().Select(m => m.Text);
            Assert.Equal(Middles.Select(m => $"{m}:7700").Order(), links.Order());
        }
    }

    [Fact]
    public async Task The_observability_profile_validates_and_Prometheus_scrapes_every_node_where_it_listens_with_its_token()
    {
        var (code, text) = await ComposeFile.ComposeAsync("--profile", "observability", "config", "-q");
        Assert.True(code == 0, $"docker-compose --profile observability config: {text}");
        var compose = await ComposeFile.LoadAsync();
        var root = ComposeFile.RepositoryRoot;
        Assert.Contains(compose.Volumes("prometheus"), v => v.Source == Path.Combine(root, "deploy", "prometheus", "prometheus.yml") && v.Target == "/etc/prometheus/prometheus.yml");
        Assert.Contains(compose.Volumes("grafana"), v => v.Source == Path.Combine(root, "deploy", "grafana", "lstp.json"));
        Assert.Contains(compose.Volumes("grafana"), v => v.Source == Path.Combine(root, "deploy", "grafana", "provisioning") && v.Target == "/etc/grafana/provisioning");

        var (check, said) = await ComposeFile.RunAsync("promtool", ["check", "config", "deploy/prometheus/prometheus.yml"], stdin: null);
        Assert.True(check == 0, $"promtool check config: {said}");
        var prometheus = await ComposeFile.YamlAsync(File.ReadAllText(Path.Combine(root, "deploy", "prometheus", "prometheus.yml")));
        var jobs = prometheus.GetProperty("scrape_configs").EnumerateArray().ToDictionary(j => j.GetProperty("job_name").GetString()!);
        string[] Targets(string job) => [.. jobs[job].GetProperty("static_configs").EnumerateArray().SelectMany(c => c.GetProperty("targets").EnumerateArray()).Select(t => t.GetString()!).Order()];

        // Each node's admin endpoint as its HOCON file sets it, reached by its service name, with the token compose gives it.
        var middlePort = HostPort.Parse(Text(Hocon("middle.conf"), "lstp.middle.admin")).Port;
        Assert.Equal(Middles.Select(m => $"{m}:{middlePort}"), Targets("lstp-middle"));
        string[] ends = ["client-end", "server-end"];
        Assert.Equal(ends.Select(e => $"{e}:{HostPort.Parse(Text(Hocon($"{e}.conf"), "lstp.end.admin")).Port}"), Targets("lstp-end"));
        foreach (var (job, variable, services) in new[] { ("lstp-middle", "LSTP__MIDDLE__ADMINTOKEN", Middles), ("lstp-end", "LSTP__END__ADMINTOKEN", ends) })
        {
            Assert.Equal("Bearer", jobs[job].GetProperty("authorization").GetProperty("type").GetString());
            foreach (var service in services)
            {
                Assert.Equal(jobs[job].GetProperty("authorization").GetProperty("credentials").GetString(), compose.Environment(service)[variable]);
            }
        }
    }

    /// <summary>Where the services see hocon/compose/.</summary>
    private const string ConfigDirectory = "/etc/lstp";

    private static HoconObject Hocon(string file) => HoconReader.Read(File.ReadAllText(Path.Combine(ComposeFile.RepositoryRoot, "hocon", "compose", file)));

    private static string Text(HoconObject root, string path) => Assert.IsType<HoconScalar>(root.At(path)).Text;

    [Fact]
    public async Task Compose_topology_runs_as_processes_on_loopback()
    {
        var compose = await ComposeFile.LoadAsync();
        await using var web = new HttpTextServer("hello through the cluster\n");
        var certificates = Directory.CreateTempSubdirectory("lstp-compose-");
        var certificate = Path.Combine(certificates.FullName, "cluster.p12");

        // Each host:port of the compose network becomes a loopback port of this machine, and the certs volume a
        // temporary directory.
        var links = Middles.ToDictionary(m => m, _ => new HostPort("127.0.0.1", Net.FreePort()));
        var endpoints = Middles.ToDictionary(m => m, _ => Endpoints.Free());
        var admins = Middles.ToDictionary(m => m, _ => new HostPort("127.0.0.1", Net.FreePort()));
        var endAdmins = new[] { "server-end", "client-end" }.ToDictionary(e => e, _ => new HostPort("127.0.0.1", Net.FreePort()));
        var forward = new HostPort("127.0.0.1", Net.FreePort());
        string Rewrite(string service, string arg)
        {
            foreach (var middle in Middles)
            {
                arg = arg.Replace($"{middle}:7700", links[middle].ToString(), StringComparison.Ordinal)
                         .Replace($"{middle}:4053", endpoints[middle].ToString(), StringComparison.Ordinal);
            }
            if (links.TryGetValue(service, out var own)) arg = arg.Replace("0.0.0.0:7700", own.ToString(), StringComparison.Ordinal);
            if (admins.TryGetValue(service, out var admin)) arg = arg.Replace("0.0.0.0:7780", admin.ToString(), StringComparison.Ordinal);
            if (endAdmins.TryGetValue(service, out var endAdmin)) arg = arg.Replace("0.0.0.0:7781", endAdmin.ToString(), StringComparison.Ordinal);
            return arg.Replace("0.0.0.0:8080", forward.ToString(), StringComparison.Ordinal)
                      .Replace("web:8000", $"127.0.0.1:{web.Port}", StringComparison.Ordinal)
                      .Replace(Certificate, certificate, StringComparison.Ordinal);
        }
        // Each service reads its own copy of hocon/compose/, rewritten the same way.
        string Configs(string service)
        {
            var dir = Directory.CreateDirectory(Path.Combine(certificates.FullName, service)).FullName;
            foreach (var file in Directory.GetFiles(Path.Combine(ComposeFile.RepositoryRoot, "hocon", "compose")))
            {
                File.WriteAllText(Path.Combine(dir, Path.GetFileName(file)), Rewrite(service, File.ReadAllText(file)));
            }
            return dir;
        }
        LstpProcess Start(string service)
        {
            var configs = Configs(service);
            return LstpProcess.Start(
                compose.Environment(service).ToDictionary(e => e.Key, e => Rewrite(service, e.Value)),
                [.. compose.Command(service).Select(a => Rewrite(service, a).Replace(ConfigDirectory, configs, StringComparison.Ordinal))]);
        }

        var processes = new List<LstpProcess>();
        try
        {
            // What the cluster-cert service does. The middles then run with it although they advertise loopback,
            // so cluster traffic is mutual TLS as in the containers.
            var create = LstpProcess.Start("cluster-cert", certificate);
            processes.Add(create);
            Assert.True(await create.WaitForExitAsync() == 0, string.Join('\n', create.Lines));

            // All at once, as compose starts them: each joins through the same seeds.
            var middles = Middles.Select(Start).ToList();
            processes.AddRange(middles);
            foreach (var middle in middles)
            {
                await middle.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
                Assert.Contains(middle.Lines, l => l.Contains("cluster traffic: mutual TLS", StringComparison.Ordinal));
            }
            processes.Add(Start("server-end"));
            processes.Add(Start("client-end"));

            using var http = new HttpClient(new HttpClientHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
            foreach (var admin in admins.Values) Assert.Equal("ok\n", await http.GetStringAsync($"http://{admin}/healthz"));
            // The rest of each admin endpoint needs the token compose gives (Prometheus presents it too).
            http.DefaultRequestHeaders.Authorization = new("Bearer", compose.Environment("middle-1")["LSTP__MIDDLE__ADMINTOKEN"]);

            await Eventually.TrueAsync(() => TryGet(http, $"http://{forward}/") == web.Body,
                "the web service answers through the client end's forward", TimeSpan.FromSeconds(40));

            foreach (var (name, admin) in admins)
            {
                await Eventually.TrueAsync(() => MemberNames(http, admin).SequenceEqual(Middles),
                    $"{name}'s /api/status lists the three middles as members", TimeSpan.FromSeconds(20));
            }

            var tunnels = 0;
            foreach (var (name, admin) in admins)
            {
                var json = await http.GetStringAsync($"http://{admin}/api/tunnels");
                output.WriteLine($"{name}: {json}");
                if (json.Contains("client-end", StringComparison.Ordinal)) tunnels++;
            }
            Assert.InRange(tunnels, 1, 2); // one middle, or two joined by one hop

            // What Prometheus scrapes in the observability profile: every node's /metrics, valid as Prometheus reads it.
            foreach (var admin in admins.Values.Concat(endAdmins.Values))
            {
                await Promtool.AssertValidAsync(await http.GetStringAsync($"http://{admin}/metrics"));
            }
        }
        finally
        {
            foreach (var process in processes)
            {
                if (process.HasExited) output.WriteLine(string.Join('\n', process.Lines));
                await process.DisposeAsync();
            }
            certificates.Delete(recursive: true);
        }
    }

    private static string After(IReadOnlyList<string> command, string flag) => command[command.ToList().IndexOf(flag) + 1];

    /// <summary>The body, or null while the address does not answer yet (for <see cref="Eventually"/>).</summary>
    private static string? TryGet(HttpClient http, string url)
    {
        try
        {
            return http.GetStringAsync(url).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>cluster.members[].name of the node's /api/status, sorted.</summary>
    private static IEnumerable<string> MemberNames(HttpClient http, HostPort admin)
    {
        if (TryGet(http, $"http://{admin}/api/status") is not { } json) return [];
        using var status = JsonDocument.Parse(json);
        return [.. status.RootElement.GetProperty("cluster").GetProperty("members").EnumerateArray().Select(m => m.GetProperty("name").GetString()!).Order()];
    }
}
