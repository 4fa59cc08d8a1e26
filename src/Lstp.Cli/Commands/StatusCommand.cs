using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json;
using Lstp.Admin;
using Lstp.Cli.Configuration;

namespace Lstp.Cli.Commands;

/// <summary>`lstp status`: what a middle sees, read from its admin endpoint.</summary>
public static class StatusCommand
{
    public static Command Create()
    {
        var admin = new Option<string>("--admin") { Description = "the middle's admin URL (default http://127.0.0.1:7780)" };
        var json = new Option<bool>("--json") { Description = "print /api/tunnels as JSON, for scripts" };
        var command = new Command("status", "Show a middle's tunnels, their paths, channels and traffic.") { admin, json };
        command.SetAction((parse, cancellationToken) => CommonOptions.Run(async () =>
        {
            var url = parse.GetValue(admin) ?? "http://127.0.0.1:7780";
            if (!url.Contains("://", StringComparison.Ordinal)) url = "http://" + url;
            if (!Uri.TryCreate(url, UriKind.Absolute, out var baseUri)) throw new UsageException($"--admin: '{url}' is not a URL");
            using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(5) };
            try
            {
                if (parse.GetValue(json))
                {
                    Console.WriteLine(await http.GetStringAsync("/api/tunnels", cancellationToken));
                    return 0;
                }
                var status = await http.GetFromJsonAsync<StatusView>("/api/status", new JsonSerializerOptions(JsonSerializerDefaults.Web), cancellationToken)
                    ?? throw new InvalidDataException("empty answer");
                Console.WriteLine($"middle {status.Node} at {status.Address}, up since {status.StartedAt:u}");
                Console.WriteLine($"{status.Tunnels.Count} tunnel(s), {status.Waiting.Count} end(s) waiting");
                foreach (var t in status.Tunnels)
                {
                    Console.WriteLine($"  {t.Id}  {string.Join(" -> ", t.Path.Select(p => p.Name))}  channels {t.Channels}  bytes {t.BytesFirstToSecond}/{t.BytesSecondToFirst}");
                }
                foreach (var w in status.Waiting) Console.WriteLine($"  waiting: {w.End} from {w.From} since {w.Since:u}");
                return 0;
            }
            catch (HttpRequestException ex)
            {
                Console.Error.WriteLine($"lstp: cannot reach the admin endpoint at {baseUri}: {ex.Message}");
                return 1;
            }
        }));
        return command;
    }
}
