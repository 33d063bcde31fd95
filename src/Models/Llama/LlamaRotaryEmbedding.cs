using TorchSharp;
using static TorchSharp.torch;

namespace NnSight.Models.Llama;

/// <summary>
/// The rotary position embedding of one attention layer: given the value states (for dtype and device) and the
/// position ids <c>[batch, positions]</c>, returns cos and sin <c>[batch, positions, head_dim]</c> at each row's own
/// positions, in the <c>cat(freqs, freqs)</c> layout, as HuggingFace's <c>LlamaRotaryEmbedding</c> since
/// transformers 4.38 (4.36 returned the table for positions 0..n−1, which is this for one row at those positions).
/// Left-padded rows rotate by their real positions, and the output is batch-first like every other module's.
/// </summary>
/// <remarks>
/// The inverse frequencies are <c>1 / rope_theta^(2i / head_dim)</c>, changed by <c>rope_scaling</c>: <c>linear</c>
/// divides them by the factor; <c>dynamic</c> (NTK) raises the base to
/// <c>rope_theta · (factor · length / max_position_embeddings − (factor − 1))^(head_dim / (head_dim − 2))</c> once the
/// sequence (the largest position id + 1) is longer than <c>max_position_embeddings</c>; <c>llama3</c> divides long wavelengths by the factor, keeps
/// short ones, and blends in between. They are computed in double precision, then the tables in the value dtype.
/// </remarks>
public sealed class LlamaRotaryEmbedding : nn.Module<Tensor, Tensor, (Tensor Cos, Tensor Sin)>
{
    private readonly int _headDim;
    private readonly double _theta;
    private readonly RopeScaling? _scaling;
    private readonly int _maxPositionEmbeddings;
    private readonly float[]? _fixedFrequencies;

    /// <summary>Creates the embedding for heads of <see cref="LlamaConfig.ResolvedHeadDim"/> features.</summary>
    public LlamaRotaryEmbedding(LlamaConfig config) : base(config.ClassPrefix + "RotaryEmbedding")
    {
        _headDim = config.ResolvedHeadDim;
        _theta = config.RopeTheta;
        _scaling = config.RopeScaling is { Kind: not "default" } scaling ? scaling : null;
        _maxPositionEmbeddings = config.MaxPositionEmbeddings;
        _fixedFrequencies = _scaling is { Kind: "dynamic" } ? null : [.. InverseFrequencies(0).Select(frequency => (float)frequency)];
    }

    /// <summary>The <c>head_dim / 2</c> inverse frequencies used for a sequence of <paramref name="sequenceLength"/> positions.</summary>
    internal double[] InverseFrequencies(long sequenceLength)
    {
        var theta = _theta;
        if (_scaling is { Kind: "dynamic", Factor: { } dynamicFactor } && sequenceLength > _maxPositionEmbeddings)
        {
            theta *= Math.Pow(dynamicFactor * sequenceLength / _maxPositionEmbeddings - (dynamicFactor - 1), _headDim / (_headDim - 2.0));
        }
        var frequencies = Enumerable.Range(0, _headDim / 2).Select(i => 1.0 / Math.Pow(theta, 2.0 * i / _headDim)).ToArray();
        return _scaling switch
        {
            { Kind: "linear", Factor: { } factor } => [.. frequencies.Select(frequency => frequency / factor)],
            { Kind: "llama3" } llama3 => [.. frequencies.Select(frequency => Llama3(frequency, llama3))],
            _ => frequencies,
        };
    }

    /// <inheritdoc />
    public override (Tensor Cos, Tensor Sin) forward(Tensor valueStates, Tensor positionIds)
    {
        using var scope = NewDisposeScope();
        var frequencies = _fixedFrequencies
            ?? [.. InverseFrequencies(positionIds.numel() > 0 ? positionIds.max().item<long>() + 1 : 0).Select(frequency => (float)frequency)];
        var inverse = tensor(frequencies, device: valueStates.device);
        var angles = positionIds.to_type(ScalarType.Float32).unsqueeze(-1) * inverse;
        var both = cat([angles, angles], dim: -1);
        return (both.cos().to_type(valueStates.dtype).MoveToOuterDisposeScope(), both.sin().to_type(valueStates.dtype).MoveToOuterDisposeScope());
    }

    /// <summary>Llama 3.1's published scaling of one inverse frequency.</summary>
    private static double Llama3(double frequency, RopeScaling scaling)
    {
        var factor = scaling.Factor!.Value;
        var low = scaling.LowFreqFactor!.Value;
        var high = scaling.HighFreqFactor!.Value;
        double original = scaling.OriginalMaxPositionEmbeddings!.Value;
        var wavelength = 2 * Math.PI / frequency;
        if (wavelength < original / high)
        {
            return frequency;
        }
        if (wavelength > original / low)
        {
            return frequency / factor;
        }
        var smooth = (original / wavelength - low) / (high - low);
        return (1 - smooth) * frequency / factor + smooth * frequency;
    }
}
