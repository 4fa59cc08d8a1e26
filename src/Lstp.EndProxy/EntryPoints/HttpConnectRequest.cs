namespace Lstp.EndProxy.EntryPoints;

/// <summary>An HTTP CONNECT request's destination: a host name or an IP literal (IPv6 without brackets) and a port.</summary>
public sealed record HttpConnectRequest(string Host, int Port);
