using static TorchSharp.torch;

namespace NnSight.Serialization;

/// <summary>The safetensors dtype names this reader and writer handle, and their TorchSharp element types.</summary>
internal static class SafetensorsDtypes
{
    private static readonly (string Name, ScalarType Type, int Size)[] Table =
    [
        ("F64", ScalarType.Float64, 8),
        ("F32", ScalarType.Float32, 4),
        ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2),
        ("I64", ScalarType.Int64, 8),
        ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2),
        ("I8", ScalarType.Int8, 1),
        ("U8", ScalarType.Byte, 1),
        ("BOOL", ScalarType.Bool, 1),
    ];

    /// <summary>Every supported dtype name.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Table.Select(row => row.Name)];

    /// <summary>Every supported element type, in the order of <see cref="Names"/>.</summary>
    internal static IEnumerable<ScalarType> ScalarTypes => Table.Select(row => row.Type);

    /// <summary>Whether <paramref name="name"/> is a supported dtype name.</summary>
    public static bool IsKnown(string name) => Table.Any(row => row.Name == name);

    /// <summary>The element type of dtype <paramref name="name"/>.</summary>
    public static ScalarType ToScalarType(string name) => Find(row => row.Name == name, $"\"{name}\"").Type;

    /// <summary>The size in bytes of one element of dtype <paramref name="name"/>.</summary>
    public static int ElementSize(string name) => Find(row => row.Name == name, $"\"{name}\"").Size;

    /// <summary>The dtype name of element type <paramref name="type"/>.</summary>
    /// <exception cref="ArgumentException">safetensors has no name for that element type here.</exception>
    public static string FromScalarType(ScalarType type) => Find(row => row.Type == type, type.ToString()).Name;

    private static (string Name, ScalarType Type, int Size) Find(Func<(string Name, ScalarType Type, int Size), bool> match, string what)
    {
        foreach (var row in Table)
        {
            if (match(row))
            {
                return row;
            }
        }
        throw new ArgumentException($"No safetensors dtype for {what} (supported: {string.Join(", ", Names)}).");
    }
}
