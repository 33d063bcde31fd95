using static TorchSharp.torch;

namespace NnSight.Plotting;

/// <summary>Reads tensors into the arrays ScottPlot draws, checking their shapes with messages that name them.</summary>
internal static class TensorGrid
{
    /// <summary>A 2-D tensor (any dtype, any device) as rows × columns of doubles.</summary>
    public static double[,] Values(Tensor tensor, string name)
    {
        if (tensor.dim() != 2)
        {
            throw new ArgumentException($"{name} must be 2-D [rows, columns], not [{string.Join(", ", tensor.shape)}].", name);
        }
        using var scope = NewDisposeScope();
        var data = tensor.detach().to(CPU).to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
        var rows = (int)tensor.shape[0];
        var columns = (int)tensor.shape[1];
        var values = new double[rows, columns];
        Buffer.BlockCopy(data, 0, values, 0, data.Length * sizeof(double));
        return values;
    }

    /// <summary>The labels given, checked against <paramref name="count"/>, or the indices 0..count-1.</summary>
    public static string[] Labels(IReadOnlyList<string>? labels, int count, string name, string what)
    {
        if (labels is null)
        {
            return [.. Enumerable.Range(0, count).Select(index => index.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        }
        if (labels.Count != count)
        {
            throw new ArgumentException($"{name} has {labels.Count} labels for {count} {what}.", name);
        }
        return [.. labels.Select(TokenText.Display)];
    }
}
