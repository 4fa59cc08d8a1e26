using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// An application helper: makes one protocol that announces dynamic ports work through the tunnel. It has two
/// halves, one per end (README.md in this folder): the relay at the end with the forward, which carries the
/// protocol's control connection and rewrites what it announces, and the watcher at the end with the service,
/// which grants the data connections the service announces. Another protocol is one more implementation.
/// </summary>
public interface IApplicationHelper
{
    /// <summary>The protocol's name, as in <c>--helper SERVICE=NAME</c> and the announcement <c>NAME:SERVICE</c>.</summary>
    string Protocol { get; }

    /// <summary>
    /// The forward's half: carries one local control connection to the peer's service (opening the control
    /// channel through <paramref name="channels"/>) until either side ends it; owns <paramref name="client"/>.
    /// </summary>
    Task RelayAsync(Socket client, IHelperChannels channels, ILogger log, CancellationToken cancellationToken);

    /// <summary>The service's half: a watcher over what the service sends on one control connection.</summary>
    IServiceWatcher Watch(DataGrantScope grants, ILogger log);
}

/// <summary>Sees, in order and before the peer does, every byte a service sends on one control connection.</summary>
public interface IServiceWatcher
{
    /// <summary>Called with each chunk as it is read; never changes the bytes, may grant data connections.</summary>
    void Observe(ReadOnlySpan<byte> fromService);
}
