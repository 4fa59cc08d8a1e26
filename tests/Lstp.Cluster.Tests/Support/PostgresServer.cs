using System.Diagnostics;
using Lstp.Testing;
using Npgsql;

namespace Lstp.Cluster.Tests.Support;

/// <summary>
/// A real PostgreSQL for the cluster tests (Debian's postgresql package, installed by scripts/install-deps.sh):
/// initdb in a temporary directory, listening on a free loopback port with its socket in that directory,
/// running as the postgres OS user when the tests run as root (postgres refuses to run as root). Each test
/// gets its own database; the server can be stopped and started again to test an outage.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private string _bin = "";
    private string _dir = "";
    private int _databases;

    public int Port { get; private set; }

    public string DataDirectory => Path.Combine(_dir, "data");

    public async Task InitializeAsync()
    {
        _bin = FindBin();
        _dir = Directory.CreateTempSubdirectory("lstp-pg-").FullName;
        if (RunsAsRoot) await RunAsync("chown", ["-R", "postgres:postgres", _dir], asPostgres: false);
        await RunAsync(Path.Combine(_bin, "initdb"), ["-D", DataDirectory, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]);
        for (var attempt = 0; ; attempt++)
        {
            Port = Net.FreePort();
            try
            {
                await StartAsync();
                return;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                // Another process took the port between FreePort and the bind: pick another.
            }
        }
    }

    /// <summary>Starts the server (again) on <see cref="Port"/>; returns once it accepts connections.</summary>
    public Task StartAsync() => RunAsync(Path.Combine(_bin, "pg_ctl"),
    [
        "-D", DataDirectory, "-l", Path.Combine(_dir, "server.log"), "-w", "-t", "30",
        "-o", $"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400",
        "start",
    ]);

    /// <summary>Stops the server as an operator would (fast shutdown: sessions are cut, the database goes away).</summary>
    public async Task StopAsync()
    {
        await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataDirectory, "-m", "fast", "-w", "stop"]);
        NpgsqlConnection.ClearAllPools(); // the tests' own pooled connections died with it
    }

    public string ConnectionString(string database) => $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database}";

    /// <summary>A fresh, empty database for one test: nothing of another test's cluster is in it.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"t{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}"[..20];
        // No pool: a pooled connection from before a StopAsync would be dead.
        await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    public async Task DisposeAsync()
    {
        if (_dir.Length == 0) return;
        try { await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataDirectory, "-m", "immediate", "-w", "stop"]); }
        catch (InvalidOperationException) { } // already stopped
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static bool RunsAsRoot => Environment.UserName == "root";

    private static string FindBin()
    {
        var versions = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Where(d => File.Exists(Path.Combine(d, "bin", "initdb"))).OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0).ToList()
            : [];
        return versions.Count > 0
            ? Path.Combine(versions[0], "bin")
            : throw new InvalidOperationException("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run scripts/install-deps.sh (Debian package postgresql)");
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> args, bool asPostgres = true)
    {
        var info = new ProcessStartInfo(asPostgres && RunsAsRoot ? "runuser" : program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(), // the postgres user may not enter the test's directory
        };
        if (asPostgres && RunsAsRoot)
        {
            foreach (var a in new[] { "-u", "postgres", "--", program }) info.ArgumentList.Add(a);
        }
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}{await stdout}");
        }
    }
}

/// <summary>Every cluster test shares one PostgreSQL and runs one at a time (they start several middles each).</summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "cluster";
}
