using System.Net;
using System.Net.NetworkInformation;

namespace Lstp.EndProxy.Policy;

/// <summary>
/// The addresses of this host's network interfaces, which a name allowed only by a host rule must not lead to
/// (the peer would reach the server end's own services). Read again at most every few seconds, so an address
/// that DHCP or a VPN adds later is covered too.
/// </summary>
public static class OwnAddresses
{
    private static readonly TimeSpan Refresh = TimeSpan.FromSeconds(5);
    private static readonly Lock Gate = new();
    private static HashSet<IPAddress> _addresses = [];
    private static long _readAt = long.MinValue;

    public static bool Contains(IPAddress address)
    {
        address = AddressClasses.Normalise(address);
        return Current().Contains(address);
    }

    private static HashSet<IPAddress> Current()
    {
        lock (Gate)
        {
            var now = Environment.TickCount64;
            if (_readAt != long.MinValue && now - _readAt < Refresh.TotalMilliseconds) return _addresses;
            _readAt = now;
            try
            {
                _addresses = NetworkInterface.GetAllNetworkInterfaces()
                    .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                    .Select(u => AddressClasses.Normalise(u.Address))
                    .ToHashSet();
            }
            catch (NetworkInformationException)
            {
                // Keep the last list: failing open here would let a host rule reach this host.
            }
            return _addresses;
        }
    }
}
