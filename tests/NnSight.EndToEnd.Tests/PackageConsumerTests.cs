using System.Diagnostics;
using System.Text.RegularExpressions;
using NnSight.TestSupport;

namespace NnSight.EndToEnd.Tests;

/// <summary>
/// The README's "Use it in your project" section, followed literally from the repository root with a fresh home
/// folder: its commands, its project lines and its program give a console project that builds and runs; variations of
/// that project show the errors a user meets.
/// </summary>
[Collection(ReadmePackages.Name)]
public sealed class PackageConsumerTests(PackageConsumerTests.ReadmeProject readme)
{
    [Fact]
    public void The_readme_steps_give_a_project_that_runs_the_typed_model()
    {
        Assert.Contains("4 layers; the last one's hidden states are [1, 10, 64]", readme.RunOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void Both_packages_carry_a_readme()
    {
        foreach (var id in new[] { "NnSight", "NnSight.Models" })
        {
            using var package = System.IO.Compression.ZipFile.OpenRead(Path.Combine(readme.PackageFolder, $"{id}.{Property("Directory.Build.props", "Version")}.nupkg"));
            Assert.Contains(package.Entries, entry => entry.FullName == "README.md");
            using var nuspec = new StreamReader(package.GetEntry($"{id}.nuspec")!.Open());
            Assert.Contains("<readme>README.md</readme>", nuspec.ReadToEnd(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_readme_names_the_versions_the_repository_builds()
    {
        Assert.Contains($"dotnet add package NnSight.Models --version {Property("Directory.Build.props", "Version")} ", readme.Commands, StringComparison.Ordinal);
        Assert.Contains($"dotnet add package libtorch-cpu-linux-x64 --version {Property("Directory.Packages.props", "LibTorchVersion")}\n", readme.Commands, StringComparison.Ordinal);
    }

    [Fact]
    public void A_misspelled_module_does_not_compile()
    {
        var project = readme.Variant("Misspelled", program => program.Replace(".H[^1].Output", ".H[^1].Mpl.Output", StringComparison.Ordinal));

        var output = readme.Dotnet(project, "build", expectSuccess: false);

        Assert.Contains("error CS1061: 'TinyGpt2.TransformerEnvoy.TransformerHEnvoy' does not contain a definition for 'Mpl'", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_project_with_only_the_runtime_package_is_told_to_reference_the_models_package()
    {
        var project = readme.Variant("RuntimeOnly",
            program => "using NnSight;\n\nConsole.WriteLine(typeof(TinyGpt2));\n\n" + program[program.IndexOf("[LanguageModel", StringComparison.Ordinal)..],
            replaceReference: ("NnSight.Models", "NnSight"));

        var output = readme.Dotnet(project, "build", expectSuccess: false);

        Assert.Contains("error NNS0007: 'TinyGpt2' carries [LanguageModel], whose generated class derives from NnSight.Models.LanguageModel", output, StringComparison.Ordinal);
        Assert.DoesNotContain("error CS", output, StringComparison.Ordinal);
    }

    [Fact]
    public void An_application_without_a_libtorch_package_is_told_which_one_to_add()
    {
        var project = readme.Variant("NoBackend", replaceReference: ("libtorch-cpu-linux-x64", null));

        var output = readme.Dotnet(project, "run", expectSuccess: false);

        Assert.Contains("NnSight.LibTorchNotFoundException: TorchSharp found no libtorch backend. Add the backend package for your platform", output, StringComparison.Ordinal);
        Assert.Contains("libtorch-cpu-linux-x64", output, StringComparison.Ordinal);
    }

    internal static string Property(string file, string name) =>
        Regex.Match(File.ReadAllText(Path.Combine(RepositoryPaths.Root, file)), $"<{name}>([^<]+)</{name}>").Groups[1].Value;

    /// <summary>Runs the README's steps once: packs the libraries, creates MyProbe and runs it.</summary>
    public sealed class ReadmeProject : IDisposable
    {
        private readonly TemporaryFolder _folder = new();
        private readonly string _home;
        private readonly string _packages;
        private readonly Lazy<string> _template;

        public ReadmeProject()
        {
            _home = _folder.File("home");
            Directory.CreateDirectory(_home);
            _packages = Run("dotnet", "nuget locals global-packages --list", RepositoryPaths.Root, input: null, asUser: false).Split(':', 2)[1].Trim();
            ForgetCachedPackages(Property("Directory.Build.props", "Version"));

            var readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "README.md"));
            _template = new Lazy<string>(() => Run("bash", "-euo pipefail", RepositoryPaths.Root, Block(readme, "template:commands"), asUser: true));
            Commands = Block(readme, "use-in-project:commands");
            Run("bash", "-euo pipefail", RepositoryPaths.Root, Commands, asUser: true);
            Project = Path.Combine(_home, "MyProbe");
            var projectFile = Path.Combine(Project, "MyProbe.csproj");
            File.WriteAllText(projectFile, File.ReadAllText(projectFile).Replace("</Project>", Block(readme, "use-in-project:project") + "</Project>", StringComparison.Ordinal));
            Program = Block(readme, "use-in-project:program");
            File.WriteAllText(Path.Combine(Project, "Program.cs"), Program);
            RunOutput = Dotnet(Project, "run");
        }

        /// <summary>The home folder the README's user works in.</summary>
        public string Home => _home;

        /// <summary>
        /// What the README's template commands printed (they pack the plotting and template packages beside the others,
        /// install the template, create MyStudy and run it); run once, on first use, after the steps above.
        /// </summary>
        public string TemplateRunOutput => _template.Value;

        /// <summary>Where the README's commands put the packages.</summary>
        public string PackageFolder => Path.Combine(_home, "nnsight-packages");

        /// <summary>The README's shell commands.</summary>
        public string Commands { get; }

        /// <summary>The README's program.</summary>
        public string Program { get; }

        /// <summary>The project the README's steps made.</summary>
        public string Project { get; }

        /// <summary>What <c>dotnet run</c> printed.</summary>
        public string RunOutput { get; }

        /// <summary>A copy of the project (sources and model, no build output) with its program or a package reference changed.</summary>
        public string Variant(string name, Func<string, string>? program = null, (string From, string? To)? replaceReference = null)
        {
            var variant = Path.Combine(_home, name);
            Directory.CreateDirectory(variant);
            CopyFolder(Path.Combine(Project, "tiny-gpt2"), Path.Combine(variant, "tiny-gpt2"));
            var projectText = File.ReadAllText(Path.Combine(Project, "MyProbe.csproj"));
            if (replaceReference is var (from, to))
            {
                var reference = PackageReference(from).Match(projectText);
                Assert.True(reference.Success, $"MyProbe.csproj has no reference to {from}");
                projectText = projectText.Replace(reference.Value, to is null ? "" : reference.Value.Replace($"\"{from}\"", $"\"{to}\"", StringComparison.Ordinal), StringComparison.Ordinal);
            }
            File.WriteAllText(Path.Combine(variant, name + ".csproj"), projectText);
            File.WriteAllText(Path.Combine(variant, "Program.cs"), program is null ? Program : program(Program));
            return variant;
        }

        /// <summary>Runs <c>dotnet</c> as the README's user: their home folder, this machine's package cache.</summary>
        public string Dotnet(string directory, string arguments, bool expectSuccess = true) =>
            Run("dotnet", arguments, directory, input: null, asUser: true, expectSuccess);

        public void Dispose() => _folder.Dispose();

        private string Run(string program, string arguments, string directory, string? input, bool asUser, bool expectSuccess = true)
        {
            var start = new ProcessStartInfo(program, arguments)
            {
                WorkingDirectory = directory,
                RedirectStandardInput = input is not null,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
            start.Environment["DOTNET_NOLOGO"] = "1";
            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            if (asUser)
            {
                start.Environment["HOME"] = _home;
                start.Environment["NUGET_PACKAGES"] = _packages;
            }
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (input is not null)
            {
                process.StandardInput.Write(input);
                process.StandardInput.Close();
            }
            process.WaitForExit();
            var text = output.Result + error.Result;
            Assert.True((process.ExitCode == 0) == expectSuccess, $"{program} {arguments} in {directory} exited with {process.ExitCode}:\n{text}");
            return text;
        }

        /// <summary>
        /// Packages are cached by version: a copy packed by an earlier run would shadow this build of the same version.
        /// </summary>
        private void ForgetCachedPackages(string version)
        {
            foreach (var id in new[] { "nnsight", "nnsight.models", "nnsight.plotting" })
            {
                var folder = Path.Combine(_packages, id, version);
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                }
            }
        }

        private static string Block(string readme, string name)
        {
            var block = Regex.Match(readme, $@"<!-- {name} -->\n```\w+\n(?<body>.*?)```", RegexOptions.Singleline);
            Assert.True(block.Success, $"README.md has no {name} block");
            return block.Groups["body"].Value;
        }

        private static void CopyFolder(string from, string to)
        {
            Directory.CreateDirectory(to);
            foreach (var file in Directory.EnumerateFiles(from))
            {
                File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
            }
        }

        private static Regex PackageReference(string id) => new($@"\s*<PackageReference Include=""{Regex.Escape(id)}"" Version=""[^""]+"" />");
    }
}

/// <summary>
/// The test classes that follow the README as one user in one home folder: the packages are packed and restored once
/// for all of them, and they run one after the other.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ReadmePackages : ICollectionFixture<PackageConsumerTests.ReadmeProject>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "README packages";
}
