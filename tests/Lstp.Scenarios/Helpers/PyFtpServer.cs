using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Lstp.Scenarios.Helpers;

/// <summary>
/// A real FTP server for the helper's scenarios: Debian's python3-pyftpdlib (scripts/install-deps.sh), anonymous
/// and read-only, serving one file of random bytes. It listens on 127.0.0.2, standing for corp A, while the
/// client end's forward listens on 127.0.0.1, corp B; its PASV replies name 192.0.2.10 (TEST-NET-1), the kind of
/// inside address an FTP server announces and a client outside cannot reach.
/// </summary>
public sealed class PyFtpServer : IAsyncDisposable
{
    public const string Host = "127.0.0.2";
    public const string AnnouncedAddress = "192.0.2.10";
    public const string FileName = "blob.bin";

    private readonly Process _process;
    private readonly string _directory;
    private readonly StringBuilder _output = new();

    private PyFtpServer(Process process, string directory, int port, byte[] content)
    {
        _process = process;
        _directory = directory;
        Port = port;
        Content = content;
    }

    public int Port { get; }
    public byte[] Content { get; }
    public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Content));
    public string Address => $"{Host}:{Port}";
    public string Output { get { lock (_output) return _output.ToString(); } }

    public static async Task<PyFtpServer> StartAsync(int bytes)
    {
        var directory = Directory.CreateTempSubdirectory("lstp-ftp-").FullName;
        var content = RandomNumberGenerator.GetBytes(bytes);
        await File.WriteAllBytesAsync(Path.Combine(directory, FileName), content);
        // Debian's package installs into the system Python; a python3 earlier on PATH (pyenv) would not see it.
        var python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        for (var attempt = 0; ; attempt++)
        {
            var port = FreePort();
            var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "-m", "pyftpdlib", "-i", Host, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-d", directory, "-n", AnnouncedAddress }) info.ArgumentList.Add(a);
            var process = Process.Start(info) ?? throw new InvalidOperationException($"{python} did not start");
            var server = new PyFtpServer(process, directory, port, content);
            process.OutputDataReceived += (_, e) => server.Append(e.Data);
            process.ErrorDataReceived += (_, e) => server.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (await server.ReadyAsync()) return server;
            var output = server.Output;
            await server.DisposeAsync();
            if (output.Contains("No module named pyftpdlib", StringComparison.Ordinal)) throw new InvalidOperationException("python3-pyftpdlib is not installed: run scripts/install-deps.sh");
            if (attempt == 2) throw new InvalidOperationException($"pyftpdlib did not start: {output}");
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    /// <summary>Ready when it greets on its control port.</summary>
    private async Task<bool> ReadyAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Parse(Host), Port);
                var buffer = new byte[256];
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None);
                if (n >= 3 && Encoding.ASCII.GetString(buffer, 0, 3) == "220") return true;
            }
            catch (SocketException)
            {
            }
            await Task.Delay(50);
        }
        return false;
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(Host), 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
