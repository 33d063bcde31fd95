using System.CodeDom.Compiler;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace NnSight.Intervention;

/// <summary>
/// The user's source line of a recording call. Methods and indexers pass it through caller-info attributes at no cost;
/// properties and operators cannot, so for them the stack is walked to the first frame outside NnSight and its
/// generated typed trees, and that one frame is mapped to a line through its portable PDB. Frames are walked without
/// file information and each method's sequence points are cached, because the framework's own resolution maps every
/// frame of the stack on every call. See docs/architecture.md#recording-envoys-proxies-and-the-tracer.
/// </summary>
internal static class CallSites
{
    private const string GeneratorName = "NnSight.Generators";
    private static readonly Assembly Runtime = typeof(CallSites).Assembly;
    private static readonly ConcurrentDictionary<Type, bool> Skipped = new();
    private static readonly ConcurrentDictionary<Module, MetadataReaderProvider?> Pdbs = new();
    private static readonly ConcurrentDictionary<(Module Module, int Token), SequencePoint[]> Points = new();

    /// <summary>The caller-info location when there is one, else the user's frame on the stack.</summary>
    public static SourceLocation? At(string file, int line) => file.Length > 0 ? new SourceLocation(file, line) : Capture();

    /// <summary>The location of the innermost stack frame that is the user's code, or null without debug symbols.</summary>
    public static SourceLocation? Capture()
    {
        foreach (var frame in new StackTrace(1, fNeedFileInfo: false).GetFrames())
        {
            if (frame.GetMethod() is not { DeclaringType: { } type } method || Skipped.GetOrAdd(type, IsNnSight))
            {
                continue;
            }
            return Resolve(method, frame.GetILOffset());
        }
        return null;
    }

    private static bool IsNnSight(Type type)
    {
        if (type.Assembly == Runtime)
        {
            return true;
        }
        for (var current = type; current is not null; current = current.DeclaringType)
        {
            if (current.GetCustomAttribute<GeneratedCodeAttribute>() is { Tool: GeneratorName })
            {
                return true;
            }
        }
        return false;
    }

    private static SourceLocation? Resolve(MethodBase method, int ilOffset)
    {
        if (ilOffset < 0 || Pdbs.GetOrAdd(method.Module, OpenPdb) is not { } pdb)
        {
            return null;
        }
        var points = Points.GetOrAdd((method.Module, method.MetadataToken), key => SequencePointsOf(pdb.GetMetadataReader(), key.Token));
        SequencePoint? found = null;
        foreach (var point in points)
        {
            if (point.Offset > ilOffset)
            {
                break;
            }
            found = point;
        }
        if (found is not { } statement)
        {
            return null;
        }
        var reader = pdb.GetMetadataReader();
        return new SourceLocation(reader.GetString(reader.GetDocument(statement.Document).Name), statement.StartLine);
    }

    private static SequencePoint[] SequencePointsOf(MetadataReader reader, int methodToken)
    {
        var handle = ((MethodDefinitionHandle)MetadataTokens.EntityHandle(methodToken)).ToDebugInformationHandle();
        return [.. reader.GetMethodDebugInformation(handle).GetSequencePoints().Where(point => !point.IsHidden).OrderBy(point => point.Offset)];
    }

    /// <summary>The module's portable PDB: embedded, at the path the image names, or beside the assembly.</summary>
    private static MetadataReaderProvider? OpenPdb(Module module)
    {
        var location = module.Assembly.Location;
        if (location.Length == 0 || !File.Exists(location))
        {
            return null;
        }
        try
        {
            using var image = new PEReader(File.OpenRead(location));
            var directory = image.ReadDebugDirectory();
            MetadataReaderProvider? pdb = null;
            if (directory.FirstOrDefault(entry => entry.Type == DebugDirectoryEntryType.EmbeddedPortablePdb) is { DataSize: > 0 } embedded)
            {
                pdb = image.ReadEmbeddedPortablePdbDebugDirectoryData(embedded);
            }
            else
            {
                var named = directory.Where(entry => entry.Type == DebugDirectoryEntryType.CodeView)
                    .Select(entry => image.ReadCodeViewDebugDirectoryData(entry).Path).FirstOrDefault(File.Exists);
                var path = named ?? Path.ChangeExtension(location, ".pdb");
                pdb = File.Exists(path) ? MetadataReaderProvider.FromPortablePdbStream(File.OpenRead(path)) : null;
            }
            _ = pdb?.GetMetadataReader();     // a Windows PDB is not portable: fail here, once, rather than on every lookup
            return pdb;
        }
        catch (Exception error) when (error is BadImageFormatException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
