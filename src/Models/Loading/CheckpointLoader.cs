using NnSight.Serialization;
using NnSight.Models.Modules;
using NnSight.Models.Progress;
using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Models.Loading;

/// <summary>
/// Reads a checkpoint's tensors into a model built on the meta device. Names, shapes and coverage are checked against
/// the state_dict before any data is read, so a checkpoint that does not fit fails with every problem listed. A tensor
/// whose stored dtype, layout and device are the ones asked for becomes its parameter as a copy-on-write view of the
/// mapped file, read by its first use; any other is read once and converted into its own memory. See
/// docs/architecture.md#loading.
/// </summary>
internal static class CheckpointLoader
{
    private const int MaxListed = 20;

    private sealed record Assignment(string StoredName, string Target, bool Transposed, long Bytes);

    /// <summary>Loads every parameter of <paramref name="model"/> (built on the meta device) from <paramref name="checkpoint"/>.</summary>
    /// <param name="model">The model, its parameters on the meta device.</param>
    /// <param name="checkpoint">The weights.</param>
    /// <param name="device">Where the parameters go.</param>
    /// <param name="dtype">The parameters' element type.</param>
    /// <param name="progress">Counts the bytes read.</param>
    /// <exception cref="CheckpointException">A tensor is missing, unexpected, or mis-shaped.</exception>
    public static void Load(CausalLanguageModel model, SafetensorsCheckpoint checkpoint, Device device, ScalarType dtype, TransferProgress progress)
    {
        var assignments = Plan(model.GetType().Name, model.CheckpointLayout, model.state_dict(), checkpoint);
        progress.AddTotal(assignments.Sum(assignment => assignment.Bytes));
        var values = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var scratch = new ScratchBuffers();
        try
        {
            using var noGrad = no_grad();
            foreach (var assignment in assignments)
            {
                var entry = checkpoint.Tensors[assignment.StoredName];
                values[assignment.Target] = !assignment.Transposed && entry.ScalarType == dtype && device.type == DeviceType.CPU
                    ? checkpoint.Map(assignment.StoredName)
                    : Converted(checkpoint, entry, assignment.Transposed, scratch, device, dtype);
                progress.Advance(assignment.Bytes);
            }
            MetaParameters.Materialize(model, values, [.. model.CheckpointLayout.TiedTensors]);
        }
        finally
        {
            foreach (var value in values.Values)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>
    /// A tensor that changes dtype, layout or device on the way in: read into a reused buffer of its stored dtype, then
    /// copied once into its own memory. (Converting from the mapped file would bring the file's pages into the process too.)
    /// </summary>
    private static Tensor Converted(SafetensorsCheckpoint checkpoint, SafetensorsEntry entry, bool transposed, ScratchBuffers scratch,
        Device device, ScalarType dtype)
    {
        using var stored = scratch.For(entry);
        checkpoint.Read(entry.Name, stored);
        using var oriented = transposed ? stored.t() : stored.alias();
        var result = empty(oriented.shape, dtype: dtype, device: device);
        result.copy_(oriented);
        return result;
    }

    /// <summary>One growing CPU buffer per stored dtype; views of it take each tensor's shape.</summary>
    private sealed class ScratchBuffers : IDisposable
    {
        private readonly Dictionary<ScalarType, Tensor> _buffers = [];

        public Tensor For(SafetensorsEntry entry)
        {
            var count = entry.Shape.Aggregate(1L, (product, size) => product * size);
            if (!_buffers.TryGetValue(entry.ScalarType, out var buffer) || buffer.numel() < count)
            {
                buffer?.Dispose();
                buffer = empty(count, dtype: entry.ScalarType);
                _buffers[entry.ScalarType] = buffer;
            }
            using var elements = buffer.narrow(0, 0, count);
            return elements.view(entry.Shape);
        }

        public void Dispose()
        {
            foreach (var buffer in _buffers.Values)
            {
                buffer.Dispose();
            }
        }
    }

    private static List<Assignment> Plan(string modelName, CheckpointLayout layout, Dictionary<string, Tensor> parameters,
        SafetensorsCheckpoint checkpoint)
    {
        var problems = new List<string>();
        var assignments = new List<Assignment>();
        var loadedFrom = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, entry) in checkpoint.Tensors)
        {
            if (layout.IsIgnored(name))
            {
                continue;
            }
            var target = parameters.ContainsKey(name) ? name
                : parameters.ContainsKey(layout.BasePrefix + name) ? layout.BasePrefix + name
                : null;
            if (target is null)
            {
                problems.Add($"unexpected tensor {name} {entry.ShapeText}: the model has no parameter of that name");
                continue;
            }
            if (layout.TiedTensors.Contains(target))
            {
                continue;
            }
            if (loadedFrom.TryGetValue(target, out var other))
            {
                problems.Add($"tensors {other} and {name} both map to {target}");
                continue;
            }
            loadedFrom[target] = name;
            var transposed = layout.IsTransposed(target);
            var expected = parameters[target].shape;
            var expectedStored = transposed ? expected.Reverse().ToArray() : expected;
            if (!expectedStored.SequenceEqual(entry.Shape))
            {
                var layoutNote = transposed ? " (Conv1D layout [in, out])" : "";
                problems.Add($"tensor {name} has shape {entry.ShapeText} in the checkpoint, but the model expects " +
                    $"{Shapes.Format(expectedStored)}{layoutNote}");
                continue;
            }
            if (!IsFloating(entry.ScalarType) && IsFloating(parameters[target].dtype))
            {
                problems.Add($"tensor {name} is stored as {entry.Dtype}, but {target} is a floating-point parameter");
                continue;
            }
            assignments.Add(new Assignment(name, target, transposed, entry.End - entry.Begin));
        }
        foreach (var (name, parameter) in parameters)
        {
            if (!loadedFrom.ContainsKey(name) && !layout.TiedTensors.Contains(name))
            {
                problems.Add($"missing tensor {name} {Shapes.Format(parameter.shape)}");
            }
        }
        if (problems.Count > 0)
        {
            var listed = problems.Take(MaxListed).Select(problem => "  - " + problem);
            var more = problems.Count > MaxListed ? $"\n  ... and {problems.Count - MaxListed} more" : "";
            throw new CheckpointException(
                $"The checkpoint does not fit {modelName} ({problems.Count} problem(s)):\n{string.Join("\n", listed)}{more}");
        }
        return assignments;
    }

    private static bool IsFloating(ScalarType type) =>
        type is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64;
}
