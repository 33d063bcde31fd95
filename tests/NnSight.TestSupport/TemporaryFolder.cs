namespace NnSight.TestSupport;

/// <summary>A fresh folder under the system temporary folder, deleted on dispose.</summary>
public sealed class TemporaryFolder : IDisposable
{
    /// <summary>Creates the folder.</summary>
    public TemporaryFolder()
    {
        FullPath = Path.Combine(Path.GetTempPath(), "nnsight-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(FullPath);
    }

    /// <summary>The folder's path.</summary>
    public string FullPath { get; }

    /// <summary>A path inside the folder.</summary>
    public string File(string name) => Path.Combine(FullPath, name);

    /// <summary>Deletes the folder and everything in it.</summary>
    public void Dispose() => Directory.Delete(FullPath, recursive: true);
}
