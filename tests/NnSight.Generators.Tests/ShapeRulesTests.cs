using NnSight.Generators.Analyzers;

namespace NnSight.Generators.Tests;

/// <summary>
/// The symbolic rules NNS0111 applies, on their own: a conflict only where no batch size or sequence length fits
/// (<c>batch</c> may be 1 or 768; <c>768·seq</c> is never 1 nor 1000), results as TorchSharp gives them.
/// </summary>
public sealed class ShapeRulesTests
{
    [Theory]
    [InlineData("[batch, seq, 768]", "[768]", "[batch, seq, 768]")]
    [InlineData("[batch, seq, 768]", "[batch, 1, 768]", "[batch, seq, 768]")]
    [InlineData("[batch, seq, 768]", "[seq, 1]", "[batch, seq, 768]")]
    [InlineData("[batch, 12, seq, past+seq]", "[batch, 1, seq, 768]", "[batch, 12, seq, 768]")]
    [InlineData("[batch, seq]", "[batch, 768]", "[batch, 768]")]
    [InlineData("[batch, seq]", "[batch, past+seq]", "[batch, ?]")]
    [InlineData("[batch·seq, 12, 64]", "[batch·seq, 12, 64]", "[batch·seq, 12, 64]")]
    [InlineData("[]", "[batch, seq, 768]", "[batch, seq, 768]")]
    public void Sizes_that_may_be_1_or_equal_broadcast(string left, string right, string result) =>
        Assert.Equal(result, ShapeRules.Broadcast(Tensor(left), Tensor(right)).Shape?.ToString());

    [Theory]
    [InlineData("[batch, seq, 768]", "[batch, seq, 3072]", "768 and 3072 differ")]
    [InlineData("[batch, 12]", "[batch, 768]", "12 and 768 differ")]
    [InlineData("[seq·768]", "[1000]", "seq·768 and 1000 differ")]
    public void Numbers_that_differ_never_broadcast(string left, string right, string conflict) =>
        Assert.Equal(conflict, ShapeRules.Broadcast(Tensor(left), Tensor(right)).Conflict);

    [Theory]
    [InlineData("seq·768", "1536", true)]
    [InlineData("seq·768", "1000", false)]
    [InlineData("batch", "768", true)]
    [InlineData("batch·seq", "past+seq", true)]
    [InlineData("768", "2304", false)]
    public void A_product_of_run_sizes_equals_only_multiples_of_its_factor(string first, string second, bool canEqual) =>
        Assert.Equal(canEqual, Dim(first).CanEqual(Dim(second)));

    [Theory]
    [InlineData("[batch, seq, 768]", "[batch, seq, 768]", null)]
    [InlineData("[batch, seq, 768]", "[batch, 1, 768]", null)]
    [InlineData("[batch, seq, 768]", "[batch, seq, 2304]", "2304 and 768 differ")]
    [InlineData("[batch, 768]", "[batch, seq, 768]", null)]
    [InlineData("[batch, 768]", "[5, batch, 768]", "the value has more dimensions, and 5 is not 1")]
    [InlineData("[batch, seq, 768]", "([batch, seq, 768], [batch, seq, 768])", "a tensor cannot be set to a tuple")]
    [InlineData("([batch, seq, 768], [batch, seq, 768])", "[batch, seq, 768]", "a tuple cannot be set to a tensor")]
    public void A_value_fits_a_slot_it_broadcasts_to(string slot, string value, string? conflict) =>
        Assert.Equal(conflict, ShapeRules.AssignConflict(SymbolicShape.Parse(slot), SymbolicShape.Parse(value)));

    [Theory]
    [InlineData("[batch, seq, 768]", new long[] { -1, 12, 64 }, "[batch·seq, 12, 64]", null)]
    [InlineData("[batch, seq, 768]", new long[] { 12, 64 }, "[12, 64]", null)]
    [InlineData("[batch, seq, 768]", new long[] { 10, 77 }, null, "its batch·seq·768 elements never make [10, 77]'s 770")]
    [InlineData("[768]", new long[] { -1, 100 }, null, "its 768 elements do not divide into [-1, 100]")]
    [InlineData("[batch, seq, 768]", new long[] { -1, 100 }, "[?, 100]", null)]
    public void Reshape_keeps_the_element_count(string value, long[] sizes, string? result, string? conflict)
    {
        var reshaped = ShapeRules.Reshape(Tensor(value), sizes);

        Assert.Equal(result, reshaped.Shape?.ToString());
        Assert.Equal(conflict, reshaped.Conflict);
    }

    [Theory]
    [InlineData("[batch, seq, 768]", "[768, 50257]", "[batch, seq, 50257]", null)]
    [InlineData("[batch, seq, 768]", "[batch, 768, seq]", "[batch, seq, seq]", null)]
    [InlineData("[batch, seq, 768]", "[batch, seq, 768]", "[batch, seq, 768]", null)]
    [InlineData("[768]", "[768]", "[]", null)]
    [InlineData("[batch, seq, 768]", "[batch, 50257, seq]", null, "the inner sizes 768 and 50257 differ")]
    [InlineData("[12, seq, 64]", "[4, 64, seq]", null, "the batch dimensions cannot broadcast: 12 and 4 differ")]
    public void Matmul_needs_equal_inner_sizes(string left, string right, string? result, string? conflict)
    {
        var product = ShapeRules.Matmul(Tensor(left), Tensor(right));

        Assert.Equal(result, product.Shape?.ToString());
        Assert.Equal(conflict, product.Conflict);
    }

    [Fact]
    public void Slices_clamp_and_keep_sizes_they_cannot_know_unknown()
    {
        Assert.Equal("68", ShapeRules.Slice(SymbolicDim.Constant(768), 700, 800).ToString());
        Assert.Equal("3", ShapeRules.Slice(SymbolicDim.Constant(768), -3, null).ToString());
        Assert.Equal("0", ShapeRules.Slice(SymbolicDim.Constant(768), 800, null).ToString());
        Assert.Equal("seq", ShapeRules.Slice(SymbolicDim.Symbol("seq"), null, null).ToString());
        Assert.Equal("?", ShapeRules.Slice(SymbolicDim.Symbol("seq"), 0, 4).ToString());
    }

    private static SymbolicTensor Tensor(string text) => (SymbolicTensor)SymbolicShape.Parse(text)!;

    private static SymbolicDim Dim(string text) => Tensor($"[{text}]").Dims[0];
}
