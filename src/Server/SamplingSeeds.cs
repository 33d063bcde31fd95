using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NnSight.Server;

/// <summary>
/// Makes every job deterministic: a trace that samples without a seed gets one, chosen when the job is accepted and
/// written into the request the server keeps, so a job run again after a crash (or by another replica) gives the same
/// tokens and values as the run it replaces. Greedy generation and forward passes need nothing: with the same libtorch
/// build and thread count they give the same bits every time.
/// </summary>
internal static class SamplingSeeds
{
    /// <summary>
    /// <paramref name="work"/> and <paramref name="request"/> unchanged when no trace samples without a seed; otherwise
    /// both with one fresh seed given to each such trace.
    /// </summary>
    public static (PreparedJob Work, byte[] Request) Fix(PreparedJob work, byte[] request)
    {
        bool Unseeded(GenerationOptions? generation) => generation is { DoSample: true, Seed: null };
        if (!work.Traces.Any(trace => Unseeded(trace.Generation)))
        {
            return (work, request);
        }
        var seed = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong)));
        var root = JsonNode.Parse(request)!.AsObject();
        var traces = root["traces"]!.AsArray();
        for (var index = 0; index < work.Traces.Count; index++)
        {
            if (Unseeded(work.Traces[index].Generation))
            {
                var generation = traces[index]!["generation"]!.AsObject();
                foreach (var name in generation.Select(property => property.Key).Where(key => key.Equals("seed", StringComparison.OrdinalIgnoreCase)).ToList())
                {
                    generation.Remove(name);
                }
                generation["seed"] = seed;
            }
        }
        var seeded = work with
        {
            Traces = [.. work.Traces.Select(trace => Unseeded(trace.Generation) ? trace with { Generation = trace.Generation! with { Seed = seed } } : trace)],
        };
        return (seeded, JsonSerializer.SerializeToUtf8Bytes(root));
    }
}
