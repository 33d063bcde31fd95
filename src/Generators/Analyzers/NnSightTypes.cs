using Microsoft.CodeAnalysis;

namespace NnSight.Generators.Analyzers;

/// <summary>The NnSight runtime types the analyzers recognise, resolved once per compilation.</summary>
internal sealed class NnSightTypes
{
    private NnSightTypes(Compilation compilation)
    {
        Envoy = compilation.GetTypeByMetadataName("NnSight.Envoy");
        EnvoyList = compilation.GetTypeByMetadataName("NnSight.EnvoyList`1");
        TensorProxy = compilation.GetTypeByMetadataName("NnSight.TensorProxy");
        TupleProxy = compilation.GetTypeByMetadataName("NnSight.TupleProxy");
        Tracer = compilation.GetTypeByMetadataName("NnSight.Tracer");
        Invoker = compilation.GetTypeByMetadataName("NnSight.Invoker");
        Model = compilation.GetTypeByMetadataName("NnSight.NnSightModel");
        ModuleAttribute = compilation.GetTypeByMetadataName("NnSight.ModuleAttribute");
        ModuleListAttribute = compilation.GetTypeByMetadataName("NnSight.ModuleListAttribute");
        TokenIndexer = compilation.GetTypeByMetadataName("NnSight.TokenIndexer");
        TensorIndex = compilation.GetTypeByMetadataName("TorchSharp.torch+TensorIndex");
    }

    public INamedTypeSymbol? Envoy { get; }

    public INamedTypeSymbol? EnvoyList { get; }

    public INamedTypeSymbol? TensorProxy { get; }

    public INamedTypeSymbol? TupleProxy { get; }

    public INamedTypeSymbol? Tracer { get; }

    public INamedTypeSymbol? Invoker { get; }

    public INamedTypeSymbol? Model { get; }

    public INamedTypeSymbol? ModuleAttribute { get; }

    public INamedTypeSymbol? ModuleListAttribute { get; }

    /// <summary><c>proxy.Token</c>'s indexer type.</summary>
    public INamedTypeSymbol? TokenIndexer { get; }

    /// <summary>TorchSharp's <c>TensorIndex</c>, the parameter type of proxies' index syntax.</summary>
    public INamedTypeSymbol? TensorIndex { get; }

    /// <summary>The types, or null when the compilation does not reference the NnSight runtime.</summary>
    public static NnSightTypes? From(Compilation compilation)
    {
        var types = new NnSightTypes(compilation);
        return types.TensorProxy is null || types.Envoy is null || types.Tracer is null || types.Invoker is null ? null : types;
    }

    /// <summary>Whether <paramref name="type"/> is <paramref name="baseType"/> or derives from it.</summary>
    public static bool Is(ITypeSymbol? type, INamedTypeSymbol? baseType)
    {
        for (var current = type; current is not null && baseType is not null; current = current.BaseType)
        {
            if (SymbolEqualityComparer.Default.Equals(current.OriginalDefinition, baseType))
            {
                return true;
            }
        }
        return false;
    }
}
