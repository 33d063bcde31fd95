using System.Diagnostics;
using System.Text.RegularExpressions;
using NnSight.TestSupport;

namespace NnSight.EndToEnd.Tests;

/// <summary>
/// A new console project outside the repository that references the NnSight.Models package, lists a config.json as
/// AdditionalFiles and writes the attribute line gets the typed tree with no other step.
/// </summary>
public sealed partial class PackageConsumerTests : IDisposable
{
    private const string Version = "0.0.0-e2e";
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_new_project_gets_the_typed_tree_from_the_package_and_a_misspelled_member_does_not_compile()
    {
        var packages = _folder.File("packages");
        foreach (var packed in new[] { "src/Runtime/NnSight.csproj", "src/Models/NnSight.Models.csproj" })
        {
            Dotnet(RepositoryPaths.Root, $"pack {packed} -c Release -o \"{packages}\" -p:Version={Version} -nologo");
        }
        ForgetCachedPackages();
        var project = Path.Combine(_folder.FullPath, "Probe");
        Directory.CreateDirectory(Path.Combine(project, "models", "gpt2"));
        File.Copy(Path.Combine(RepositoryPaths.Root, "models", "gpt2", "config.json"), Path.Combine(project, "models", "gpt2", "config.json"));
        File.WriteAllText(Path.Combine(project, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local" value="{packages}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(project, "Probe.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="NnSight.Models" Version="{Version}" />
                <PackageReference Include="libtorch-cpu-linux-x64" Version="{PackageVersion("libtorch-cpu-linux-x64")}" />
                <AdditionalFiles Include="models/gpt2/config.json" />
              </ItemGroup>
            </Project>
            """);

        WriteProgram(project, "Mlp");
        var built = Dotnet(project, "build -nologo");
        WriteProgram(project, "Mpl");
        var failed = Dotnet(project, "build -nologo", expectSuccess: false);

        Assert.Contains("0 Error(s)", built, StringComparison.Ordinal);
        Assert.Contains("error CS1061: 'Gpt2.TransformerEnvoy.TransformerHEnvoy' does not contain a definition for 'Mpl'", failed, StringComparison.Ordinal);
    }

    private static void WriteProgram(string project, string member) =>
        File.WriteAllText(Path.Combine(project, "Program.cs"), $$"""
            using NnSight;

            Func<Gpt2, Envoy> eleventh = model => model.Transformer.H[11].{{member}};
            Console.WriteLine(eleventh.Method.ReturnType);

            [LanguageModel("models/gpt2/config.json")]
            public partial class Gpt2;
            """);

    private static void ForgetCachedPackages()
    {
        var cache = Dotnet(RepositoryPaths.Root, "nuget locals global-packages --list").Split(':', 2)[1].Trim();
        foreach (var id in new[] { "nnsight", "nnsight.models" })
        {
            var folder = Path.Combine(cache, id, Version);
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private static string PackageVersion(string id) =>
        PackageVersionPattern().Matches(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "Directory.Packages.props")))
            .Single(match => match.Groups["id"].Value == id).Groups["version"].Value;

    private static string Dotnet(string directory, string arguments, bool expectSuccess = true)
    {
        var start = new ProcessStartInfo("dotnet", arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        var text = output.Result + error.Result;
        Assert.True((process.ExitCode == 0) == expectSuccess, $"dotnet {arguments} exited with {process.ExitCode}:\n{text}");
        return text;
    }

    [GeneratedRegex("""<PackageVersion Include="(?<id>[^"]+)" Version="(?<version>[^"]+)" />""")]
    private static partial Regex PackageVersionPattern();
}
