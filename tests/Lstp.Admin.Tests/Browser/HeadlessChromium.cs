using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lstp.Admin.Tests.Browser;

/// <summary>
/// Debian's chromium, headless, driven over the Chrome DevTools Protocol on its WebSocket (flat sessions:
/// one browser connection, a session id per page). Enough of CDP for the dashboard tests: open a page,
/// evaluate script, take a screenshot.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    public const string Executable = "/usr/bin/chromium";

    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task _reading = Task.CompletedTask;
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    public static async Task<HeadlessChromium> LaunchAsync()
    {
        if (!File.Exists(Executable)) throw new InvalidOperationException($"{Executable} is missing: scripts/install-deps.sh installs Debian's chromium package");
        var profile = Directory.CreateTempSubdirectory("lstp-chromium-").FullName;
        var info = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-proxy-server", "--remote-debugging-port=0",
            $"--user-data-dir={profile}", "--window-size=1400,1000", "about:blank",
        })
        {
            info.ArgumentList.Add(arg);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start chromium");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var browser = new HeadlessChromium(process, profile);
        try
        {
            await browser.ConnectAsync();
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    private async Task ConnectAsync()
    {
        // Chromium writes the port it chose and the browser's WebSocket path to DevToolsActivePort.
        var file = Path.Combine(_profile, "DevToolsActivePort");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        string[] lines = [];
        while (lines.Length < 2)
        {
            if (_process.HasExited) throw new InvalidOperationException($"chromium exited with code {_process.ExitCode} before it listened");
            if (DateTime.UtcNow > deadline) throw new TimeoutException("chromium did not write DevToolsActivePort within 30 s");
            await Task.Delay(50);
            try { lines = File.Exists(file) ? File.ReadAllLines(file) : []; } catch (IOException) { lines = []; }
        }
        await _socket.ConnectAsync(new Uri($"ws://127.0.0.1:{lines[0].Trim()}{lines[1].Trim()}"), CancellationToken.None);
        _reading = Task.Run(ReadLoopAsync);
    }

    /// <summary>Sends one CDP command and returns its result; a CDP error becomes an exception.</summary>
    public async Task<JsonElement> SendAsync(string method, object? parameters = null, string? sessionId = null, TimeSpan? timeout = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = JsonSerializer.SerializeToNode(parameters ?? new { }) };
        if (sessionId is not null) message["sessionId"] = sessionId;
        var bytes = Encoding.UTF8.GetBytes(message.ToJsonString());
        await _sending.WaitAsync();
        try
        {
            await _socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        }
        finally
        {
            _sending.Release();
        }
        return await reply.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(30));
    }

    /// <summary>Opens a new tab at <paramref name="url"/> with a fixed viewport, and waits until it has loaded.</summary>
    public async Task<BrowserPage> OpenAsync(string url, int width = 1400, int height = 1000)
    {
        var target = await SendAsync("Target.createTarget", new { url = "about:blank" });
        var attached = await SendAsync("Target.attachToTarget", new { targetId = target.GetProperty("targetId").GetString(), flatten = true });
        var page = new BrowserPage(this, attached.GetProperty("sessionId").GetString()!);
        await page.SendAsync("Page.enable");
        await page.SendAsync("Runtime.enable");
        await page.ResizeAsync(width, height);
        await page.SendAsync("Page.navigate", new { url });
        await page.WaitForAsync("document.readyState === 'complete'", "the page has loaded");
        return page;
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var result = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close) break;
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage) continue;
                using var document = JsonDocument.Parse(message.ToArray());
                message.SetLength(0);
                var root = document.RootElement;
                if (!root.TryGetProperty("id", out var idElement) || !_pending.TryRemove(idElement.GetInt32(), out var reply)) continue; // an event
                if (root.TryGetProperty("error", out var error)) reply.TrySetException(new InvalidOperationException($"CDP error: {error.GetRawText()}"));
                else reply.TrySetResult(root.GetProperty("result").Clone());
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }
        foreach (var pending in _pending.Values) pending.TrySetException(new InvalidOperationException("the DevTools connection closed"));
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _reading.WaitAsync(TimeSpan.FromSeconds(5)); } catch (Exception) { }
        _socket.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try { Directory.Delete(_profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>One tab, addressed by its CDP session.</summary>
public sealed class BrowserPage(HeadlessChromium browser, string sessionId)
{
    public Task<JsonElement> SendAsync(string method, object? parameters = null) => browser.SendAsync(method, parameters, sessionId);

    public Task ResizeAsync(int width, int height) =>
        SendAsync("Emulation.setDeviceMetricsOverride", new { width, height, deviceScaleFactor = 1, mobile = false });

    /// <summary>Evaluates <paramref name="expression"/> in the page (promises awaited) and returns its value as JSON.</summary>
    public async Task<JsonElement> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new { expression, returnByValue = true, awaitPromise = true });
        if (result.TryGetProperty("exceptionDetails", out var exception)) throw new InvalidOperationException($"script failed: {exception.GetRawText()}");
        var value = result.GetProperty("result");
        return value.TryGetProperty("value", out var v) ? v : default;
    }

    public async Task<T> EvaluateAsync<T>(string expression) => (await EvaluateAsync(expression)).Deserialize<T>()!;

    /// <summary>Polls a boolean expression until it holds; fails with <paramref name="what"/> and the page's text.</summary>
    public async Task WaitForAsync(string expression, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var value = await EvaluateAsync($"!!({expression})");
            if (value.ValueKind == JsonValueKind.True) return;
            if (DateTime.UtcNow > deadline)
            {
                var text = await EvaluateAsync("document.body ? document.body.innerText : ''");
                throw new TimeoutException($"timed out waiting until {what}; the page shows:\n{text}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>A PNG of the whole page: the viewport takes the height of the page's content first.</summary>
    public async Task<byte[]> ScreenshotAsync(int width = 1400)
    {
        var height = await EvaluateAsync<int>("Math.ceil(document.body.getBoundingClientRect().height)");
        await ResizeAsync(width, Math.Max(height, 200));
        var shot = await SendAsync("Page.captureScreenshot", new { format = "png" });
        return Convert.FromBase64String(shot.GetProperty("data").GetString()!);
    }
}
