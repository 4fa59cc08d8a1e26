namespace Lstp.Cli.Options;

/// <summary>Every command's option table, in the order the reference configuration lists them.</summary>
public static class OptionTables
{
    public static IReadOnlyList<IOptionTable> All { get; } = [MiddleOptionTable.Table, EndOptionTable.Table, StatusOptionTable.Table];
}
