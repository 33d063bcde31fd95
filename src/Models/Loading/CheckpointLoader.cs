using NnSight.Serialization;
using NnSight.Models.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Loading;

/// <summary>
/// Copies a checkpoint's tensors into a model's parameters. Names, shapes and coverage are checked against the
/// state_dict before any data is read, so a checkpoint that does not fit fails with every problem listed and the
/// model untouched.
/// </summary>
internal static class CheckpointLoader
{
    private const int MaxListed = 20;

    private sealed record Assignment(string StoredName, string Target, bool Transposed);

    /// <summary>Loads every parameter of <paramref name="model"/> from <paramref name="checkpoint"/>.</summary>
    /// <exception cref="CheckpointException">A tensor is missing, unexpected, or mis-shaped.</exception>
    public static void Load(CausalLanguageModel model, SafetensorsCheckpoint checkpoint)
    {
        var layout = model.CheckpointLayout;
        var parameters = model.state_dict();
        var assignments = Plan(model.GetType().Name, layout, parameters, checkpoint);
        using var noGrad = no_grad();
        foreach (var assignment in assignments)
        {
            using var stored = checkpoint.Read(assignment.StoredName);
            using var source = assignment.Transposed ? stored.t() : stored.alias();
            parameters[assignment.Target].copy_(source);
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
            assignments.Add(new Assignment(name, target, transposed));
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
