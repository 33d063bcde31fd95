using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Modules;

/// <summary>Token and position embeddings that cost nothing to build on the meta device.</summary>
internal static class Embeddings
{
    /// <summary>
    /// An embedding table of <paramref name="count"/> rows of <paramref name="width"/>. TorchSharp's embedding is a
    /// native module that fills its table with random values on the CPU before moving it, even to the meta device (and
    /// from a given table too). On the meta device (a model about to load a checkpoint) the module is built with one
    /// row and given an empty meta table of the full size: the forward reads only the table, never the row count it was
    /// built with.
    /// </summary>
    public static Embedding Create(long count, long width, Device? device, ScalarType? dtype)
    {
        if (device?.type != DeviceType.META)
        {
            return nn.Embedding(count, width, device: device, dtype: dtype);
        }
        var embedding = nn.Embedding(1, width, device: device, dtype: dtype);
        embedding.weight = new Parameter(empty(count, width, dtype: dtype, device: device));
        return embedding;
    }
}
