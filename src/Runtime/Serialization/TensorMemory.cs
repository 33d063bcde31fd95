using static TorchSharp.torch;

namespace NnSight.Serialization;

/// <summary>Walks a contiguous CPU tensor's memory in spans of at most 1 GiB (a span cannot exceed 2 GiB).</summary>
internal static class TensorMemory
{
    private const long ChunkBytes = 1L << 30;

    /// <summary>Receives one span of tensor memory and its byte offset from the tensor's start.</summary>
    public delegate void ChunkAction(Span<byte> chunk, long byteOffset);

    /// <summary>Calls <paramref name="action"/> on consecutive spans covering all of <paramref name="tensor"/>'s bytes.</summary>
    public static void ForEachChunk(Tensor tensor, ChunkAction action)
    {
        var count = tensor.numel();
        if (count == 0)
        {
            return;
        }
        var elementSize = tensor.ElementSize;
        var chunkElements = Math.Max(1, ChunkBytes / elementSize);
        using var flat = tensor.view(-1);
        for (long first = 0; first < count; first += chunkElements)
        {
            using var part = flat.narrow(0, first, Math.Min(chunkElements, count - first));
            action(part.bytes, first * elementSize);
        }
    }
}
