using System.Globalization;
using Xunit;
using static TorchSharp.torch;

namespace NnSight.TestSupport;

/// <summary>Assertions on tensors with the fixtures' tolerance rule: |actual − expected| ≤ atol + rtol·|expected|.</summary>
public static class TensorAssert
{
    /// <summary>Asserts equal shapes and every element within tolerance (or where <paramref name="where"/> is true).</summary>
    public static void Close(Tensor expected, Tensor actual, double rtol, double atol, string label, Tensor? where = null)
    {
        AssertShape(expected, actual, label);
        using var scope = NewDisposeScope();
        var e = expected.detach().cpu().to_type(ScalarType.Float64);
        var a = actual.detach().cpu().to_type(ScalarType.Float64);
        var excess = (a - e).abs() - (atol + rtol * e.abs());
        if (where is not null)
        {
            excess = excess.masked_fill(where.cpu().to_type(ScalarType.Bool).expand_as(excess).logical_not(), double.NegativeInfinity);
        }
        var nonFinite = a.isfinite().logical_not();
        if (where is not null)
        {
            nonFinite = nonFinite.logical_and(where.cpu().to_type(ScalarType.Bool).expand_as(nonFinite));
        }
        Assert.False(nonFinite.any().item<bool>(), $"{label}: the actual tensor has non-finite values.");
        var worst = excess.reshape(-1).argmax().item<long>();
        var worstExcess = excess.reshape(-1)[worst].item<double>();
        if (worstExcess > 0)
        {
            var index = Unravel(worst, expected.shape);
            Assert.Fail(string.Create(CultureInfo.InvariantCulture,
                $"{label}: element [{string.Join(", ", index)}] is {a.reshape(-1)[worst].item<double>():R}, expected {e.reshape(-1)[worst].item<double>():R} " +
                $"(rtol {rtol}, atol {atol}; {(excess > 0).sum().item<long>()} element(s) out of tolerance)."));
        }
    }

    /// <summary>Asserts equal shapes and identical values (for ids and other integers).</summary>
    public static void Equal(Tensor expected, Tensor actual, string label)
    {
        AssertShape(expected, actual, label);
        using var e = expected.detach().cpu().to_type(ScalarType.Int64).contiguous();
        using var a = actual.detach().cpu().to_type(ScalarType.Int64).contiguous();
        Assert.Equal(e.data<long>().ToArray(), a.data<long>().ToArray());
    }

    private static void AssertShape(Tensor expected, Tensor actual, string label) =>
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{label}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}].");

    private static long[] Unravel(long flat, long[] shape)
    {
        var index = new long[shape.Length];
        for (var dim = shape.Length - 1; dim >= 0; dim--)
        {
            index[dim] = flat % shape[dim];
            flat /= shape[dim];
        }
        return index;
    }
}
