using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Lstp.Admin.Views;
using Lstp.Cli.Options;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Lstp.Cli.Commands;

/// <summary>`lstp status`: what a middle sees, read from its admin endpoint and shown as tables (or JSON for scripts).</summary>
public static class StatusCommand
{
    public static Command Create()
    {
        var command = StatusOptionTable.Table.CreateCommand();
        command.SetAction((parse, cancellationToken) => CommonOptions.Run(async () =>
        {
            var status = StatusOptionTable.Read(parse);
            using var client = AdminClient.Create(status.Admin, status.Token);
            var console = CreateConsole();
            try
            {
                if (status.Json)
                {
                    do
                    {
                        Console.WriteLine(await client.GetAsync("/api/tunnels", cancellationToken));
                    }
                    while (status.Watch && await Pause(status.Interval, cancellationToken));
                    return 0;
                }
                if (!status.Watch)
                {
                    console.Write(StatusTables.Render(await client.GetStatusAsync(cancellationToken)));
                    return 0;
                }
                if (Console.IsOutputRedirected)
                {
                    // Into a file or a pipe: one snapshot after another, nothing redrawn in place.
                    do
                    {
                        console.Write(await ViewAsync(client, cancellationToken));
                        console.WriteLine();
                    }
                    while (await Pause(status.Interval, cancellationToken));
                    return 0;
                }
                await console.Live(new Text("connecting…")).StartAsync(async live =>
                {
                    do
                    {
                        live.UpdateTarget(await ViewAsync(client, cancellationToken));
                        live.Refresh();
                    }
                    while (await Pause(status.Interval, cancellationToken));
                });
                return 0;
            }
            catch (AdminUnreachableException ex)
            {
                Console.Error.WriteLine($"lstp: {ex.Message}");
                return 1;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return 0;
            }
        }));
        return command;
    }

    /// <summary>The status tables, or while watching, why there are none this time (the next refresh tries again).</summary>
    private static async Task<IRenderable> ViewAsync(AdminClient client, CancellationToken cancellationToken)
    {
        try
        {
            return StatusTables.Render(await client.GetStatusAsync(cancellationToken));
        }
        catch (AdminUnreachableException ex)
        {
            return new Markup($"[red]{Markup.Escape(ex.Message)}[/] (retrying)");
        }
    }

    private static async Task<bool> Pause(TimeSpan interval, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(interval, cancellationToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static IAnsiConsole CreateConsole()
    {
        // Piped into a file or grep: plain text (no escape codes), and no terminal width to honour, where 80
        // columns would wrap every row.
        var piped = Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Console.Out),
            Ansi = piped ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = piped ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
        });
        if (piped) console.Profile.Width = 200;
        return console;
    }
}

/// <summary>The admin endpoint is down, refused us, or answered nonsense: one line saying which.</summary>
public sealed class AdminUnreachableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A client of a middle's admin endpoint: its base URL, and the token or basic credentials it presents.</summary>
public sealed class AdminClient : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private readonly HttpClient _http;
    private readonly Uri _shown;

    private AdminClient(HttpClient http, Uri shown)
    {
        _http = http;
        _shown = shown;
    }

    /// <summary>
    /// <paramref name="uri"/> may hold USER:PASS@ for basic credentials (<see cref="Options.Parse.AdminUrl"/>); those are sent,
    /// never shown: messages name the URL without them.
    /// </summary>
    public static AdminClient Create(Uri uri, string? token)
    {
        var shown = new UriBuilder(uri) { UserName = "", Password = "" }.Uri;
        var http = new HttpClient { BaseAddress = shown, Timeout = Timeout };
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        else if (uri.UserInfo.Length > 0)
        {
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(uri.UserInfo)));
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", basic);
        }
        return new AdminClient(http, shown);
    }

    public async Task<string> GetAsync(string path, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.GetAsync(path, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new AdminUnreachableException($"cannot reach the admin endpoint at {_shown}: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new AdminUnreachableException($"the admin endpoint at {_shown} did not answer within {Timeout.TotalSeconds:0} s", ex);
        }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                throw new AdminUnreachableException(
                    $"the admin endpoint at {_shown} needs credentials: --token, --token-file or LSTP__STATUS__TOKEN, or --admin http://USER:PASS@HOST:PORT");
            }
            if (!response.IsSuccessStatusCode)
            {
                throw new AdminUnreachableException($"the admin endpoint at {_shown} answered {(int)response.StatusCode} {response.ReasonPhrase} for {path}");
            }
            return await response.Content.ReadAsStringAsync(cancellationToken);
        }
    }

    public async Task<StatusView> GetStatusAsync(CancellationToken cancellationToken)
    {
        var body = await GetAsync("/api/status", cancellationToken);
        try
        {
            return JsonSerializer.Deserialize<StatusView>(body, JsonSerializerOptions.Web) ?? throw new JsonException("empty answer");
        }
        catch (JsonException ex)
        {
            throw new AdminUnreachableException($"the admin endpoint at {_shown} answered something that is not an LSTP status: {ex.Message}", ex);
        }
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>The status as terminal tables: tunnels with their paths and traffic, waiting ends, recent errors, the cluster.</summary>
public static class StatusTables
{
    /// <summary>Errors shown in the terminal; the dashboard and /api/status have the whole ring.</summary>
    private const int ErrorsShown = 10;

    public static IRenderable Render(StatusView s)
    {
        var parts = new List<IRenderable>
        {
            new Markup(
                $"[bold]middle {E(s.Node)}[/] at {E(s.Address)}, up {Figures.Duration(s.Now - s.StartedAt)}: " +
                $"{s.Tunnels.Count} tunnel(s), {s.Totals.Channels} channel(s), {s.Waiting.Count} waiting, " +
                $"{Figures.Rate(s.Totals.Rate)}, {Figures.Bytes(s.Totals.BytesRelayed)} relayed, {s.Totals.Errors} error(s) since start"),
            Tunnels(s),
        };
        if (s.Waiting.Count > 0)
        {
            var waiting = Table("Waiting ends", "End", "From", "Waiting");
            foreach (var w in s.Waiting) waiting.AddRow(T(w.End + (w.Resuming ? " (resuming)" : "")), T(w.From), T(Figures.Duration(s.Now - w.Since)));
            parts.Add(waiting);
        }
        if (s.Errors.Count > 0)
        {
            var errors = Table("Recent errors", "Time", "Code", "Count", "Reason");
            foreach (var e in s.Errors.Take(ErrorsShown))
            {
                var reason = (e.Reason ?? "-") + (e.From is null ? "" : $" (from {e.From})");
                errors.AddRow(T(e.At.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture)), T($"{e.Code} ({e.Number})"), T($"x{e.Count}"), T(reason));
            }
            parts.Add(errors);
        }
        var cluster = Table($"Cluster ({s.Cluster.Mode})", "Node", "Address", "Health", "Up", "Tunnels", "Waiting");
        foreach (var m in s.Cluster.Members)
        {
            cluster.AddRow(
                T(m.Name + (m.Self ? " (this node)" : "")), T(m.Address), T(m.Health), T(m.Since is { } since ? Figures.Duration(s.Now - since) : "-"),
                T(m.Tunnels?.ToString(CultureInfo.InvariantCulture) ?? "-"), T(m.Waiting?.ToString(CultureInfo.InvariantCulture) ?? "-"));
        }
        parts.Add(cluster);
        return new Rows(parts);
    }

    private static Table Tunnels(StatusView s)
    {
        var table = Table("Tunnels", "Tunnel", "Ends", "Path", "Channels", "First → second", "Second → first", "Open");
        if (s.Tunnels.Count == 0) table.AddRow(T("-"), T("no tunnels yet"), T(""), T(""), T(""), T(""), T(""));
        foreach (var t in s.Tunnels)
        {
            table.AddRow(
                T(t.Id),
                T(string.Join(" <-> ", t.Ends)),
                T(string.Join(" -> ", t.Path.Select(p => p.Name))),
                T($"{t.Channels}"),
                T($"{Figures.Bytes(t.BytesFirstToSecond)} ({Figures.Rate(t.RateFirstToSecond)})"),
                T($"{Figures.Bytes(t.BytesSecondToFirst)} ({Figures.Rate(t.RateSecondToFirst)})"),
                T(Figures.Duration(s.Now - t.Since) + (t.Resumed ? " (resumed)" : "")));
        }
        return table;
    }

    private static Table Table(string title, params string[] columns)
    {
        var table = new Table { Title = new TableTitle(title), Border = TableBorder.Rounded };
        foreach (var column in columns) table.AddColumn(new TableColumn(E(column)));
        return table;
    }

    /// <summary>Names come from the ends: always plain text, never Spectre markup.</summary>
    private static Text T(string text) => new(text);

    private static string E(string text) => Markup.Escape(text);
}

/// <summary>Bytes, rates and durations as people read them.</summary>
public static class Figures
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB"];

    public static string Bytes(long count)
    {
        double value = count;
        var unit = 0;
        while (value >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? $"{count} B" : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {Units[unit]}");
    }

    public static string Rate(long perSecond) => Bytes(perSecond) + "/s";

    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.Zero) span = TimeSpan.Zero;
        if (span.TotalDays >= 1) return $"{(int)span.TotalDays}d {span.Hours}h";
        if (span.TotalHours >= 1) return $"{(int)span.TotalHours}h {span.Minutes}m";
        if (span.TotalMinutes >= 1) return $"{(int)span.TotalMinutes}m {span.Seconds}s";
        return $"{(int)span.TotalSeconds}s";
    }
}
