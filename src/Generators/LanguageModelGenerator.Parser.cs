using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using NnSight.Generators.Json;
using NnSight.Generators.Model;
using NnSight.Generators.Templates;

namespace NnSight.Generators;

public sealed partial class LanguageModelGenerator
{
    /// <summary>
    /// Turns a <c>[LanguageModel]</c> request and the project's AdditionalFiles into the model to emit: finds the
    /// config file, reads it, picks the architecture template and builds the typed tree. Knows no Roslyn symbol.
    /// </summary>
    internal static class Parser
    {
        /// <summary>Members of the generated class's bases and of Envoy that generated members must not hide.</summary>
        private static readonly HashSet<string> ReservedMembers = new(StringComparer.Ordinal)
        {
            "Module", "Config", "Tokenizer", "Generation", "Device", "Dtype", "Root", "Output", "Input", "Inputs",
            "ShapeRules", "Envoy", "Trace", "Generate", "GenerateIds", "Forward", "Tokenize", "Batch", "ModuleAt",
            "FromPretrained", "RequireTokenizer", "Dispose", "ToString", "Path", "Name", "Children", "Count", "Child",
            "Call", "Equals", "GetHashCode", "GetType",
        };

        public static ParseResult Parse(ParseInput input)
        {
            var request = input.Request;
            var diagnostics = new List<DiagnosticInfo>();
            try
            {
                var model = Build(input, diagnostics);
                return new ParseResult(model, diagnostics.ToEquatableArray());
            }
            catch (Exception error)
            {
                diagnostics.Add(Diagnostic("NNS0099", request, request.ConfigPath, error.Message));
                return new ParseResult(null, diagnostics.ToEquatableArray());
            }
        }

        private static ModelSpec? Build(ParseInput input, List<DiagnosticInfo> diagnostics)
        {
            var request = input.Request;
            if (!request.IsPartial || request.IsNested)
            {
                diagnostics.Add(Diagnostic("NNS0006", request, request.ClassName));
                return null;
            }
            if (!input.ModelsReferenced)
            {
                diagnostics.Add(Diagnostic("NNS0007", request, request.ClassName));
                return null;
            }
            var file = FindConfig(request.ConfigPath, input.Files, input.ProjectDirectory);
            if (file is null)
            {
                diagnostics.Add(Diagnostic("NNS0001", request, request.ConfigPath));
                return null;
            }

            JsonValue json;
            try
            {
                json = JsonReader.Parse(file.Text);
            }
            catch (JsonSyntaxException error)
            {
                diagnostics.Add(Diagnostic("NNS0002", request, request.ConfigPath, error.Line.ToString(CultureInfo.InvariantCulture),
                    error.Column.ToString(CultureInfo.InvariantCulture), error.Message));
                return null;
            }
            if (json is not JsonObject config)
            {
                diagnostics.Add(Diagnostic("NNS0002", request, request.ConfigPath, "1", "1", "the file holds a JSON value that is not an object"));
                return null;
            }

            if (config["model_type"] is not JsonString { Value: var modelType })
            {
                diagnostics.Add(Diagnostic("NNS0004", request, request.ConfigPath, "model_type", "typed"));
                return null;
            }
            var template = Architectures.Find(modelType);
            if (template is null)
            {
                diagnostics.Add(Diagnostic("NNS0003", request, request.ConfigPath, modelType, string.Join(", ", Architectures.SupportedModelTypes)));
                return null;
            }

            var values = ReadValues(config);
            var missing = template.RequiredKeys.Where(key => values.Long(key) is null).ToList();
            if (missing.Count > 0)
            {
                diagnostics.AddRange(missing.Select(key => Diagnostic("NNS0004", request, request.ConfigPath, key, template.Name)));
                return null;
            }
            template.Derive(values);

            var counter = 0;
            var children = template.Children.Select(child => BuildModule(child, values, "", "", inElement: false, ref counter)).ToEquatableArray();
            var collision = FindCollision(request.ClassName, children);
            if (collision is { } found)
            {
                diagnostics.Add(Diagnostic("NNS0005", request, found.Module, found.Member, found.With));
                return null;
            }

            var structural = template.StructuralKeys
                .Where(key => config[key] is JsonNumber number && number.TryGetInt64(out _))
                .Select(key => { ((JsonNumber)config[key]!).TryGetInt64(out var value); return new StructuralKey(key, value); })
                .ToEquatableArray();
            var rootOutput = Output(request.ClassName + "Output", template.RootOutput, values);
            return new ModelSpec(request.Namespace, request.ClassName, request.Accessibility, request.ConfigPath, modelType,
                template.Name, template.ConfigType, Summary(template, values, request.ConfigPath), structural, rootOutput, children);
        }

        private static ModuleSpec BuildModule(ModuleTemplate template, ConfigValues values, string parentPath, string parentDocumentation,
            bool inElement, ref int counter)
        {
            var path = Join(parentPath, template.Name);
            var documentation = Join(parentDocumentation, template.Name);
            var typeBase = Naming.ToTypeName(StripIndices(documentation));
            if (template.CountKey is { } countKey)
            {
                var length = checked((int)values.Long(countKey)!.Value);
                var index = documentation.Count(c => c == '{') == 0 ? "{i}" : "{j}";
                var elementCounter = 0;
                var elementTemplate = new ModuleTemplate("", template.Element!.Kind, template.Element.Output,
                    template.Element.Tuple.ToArray(), template.Element.Children.ToArray(), input: template.Element.Input,
                    shape: template.Element.Shape, elementwise: template.Element.Elementwise);
                var element = BuildModule(elementTemplate, values, "", documentation + "." + index, inElement: true, ref elementCounter);
                var list = new ListSpec(length, counter, elementCounter, element);
                counter += elementCounter * length;
                return new ModuleSpec(template.Name, Naming.ToPascalCase(template.Name), $"global::NnSight.EnvoyList<{element.TypeName}>",
                    $"ModuleList of {length} {template.Element.Kind}", path, documentation, inElement, -1, null, null,
                    EquatableArray<ModuleSpec>.Empty, list, element.Shape, element.InputShape, element.Elementwise);
            }

            var children = new List<ModuleSpec>();
            foreach (var child in template.Children)
            {
                children.Add(BuildModule(child, values, path, documentation, inElement, ref counter));
            }
            var order = counter++;
            var output = template.Tuple.Count == 0 ? null : Output(typeBase + "Output", template.Tuple, values);
            var needsClass = children.Count > 0 || output is not null;
            return new ModuleSpec(template.Name, Naming.ToPascalCase(template.Name), needsClass ? typeBase + "Envoy" : "global::NnSight.Envoy",
                values.Expand(template.Kind), path, documentation, inElement, order,
                template.Output is null ? null : values.Expand(template.Output), output, children.ToEquatableArray(), null,
                Expand(template.Shape, values), Expand(template.Input, values), template.Elementwise);
        }

        private static OutputSpec Output(string typeName, IEnumerable<TupleElement> elements, ConfigValues values)
        {
            var specs = elements.Select(element => new OutputElementSpec(element.Index, element.Alias, values.Expand(element.Description),
                element.IsTuple, values.Expand(element.Shape))).ToEquatableArray();
            return new OutputSpec(typeName, specs, "(" + string.Join(", ", specs.Select(element => element.Shape)) + ")");
        }

        private static string? Expand(string? text, ConfigValues values) => text is null ? null : values.Expand(text);

        private static ConfigValues ReadValues(JsonObject config)
        {
            var values = new ConfigValues();
            foreach (var member in config.Members)
            {
                values[member.Key] = member.Value switch
                {
                    JsonNumber number when number.TryGetInt64(out var integer) => integer.ToString(CultureInfo.InvariantCulture),
                    JsonNumber number => number.Text,
                    JsonString text => text.Value,
                    JsonLiteral { Text: "true" or "false" } literal => literal.Text,
                    _ => null,
                };
            }
            return values;
        }

        private static string Summary(ArchitectureTemplate template, ConfigValues values, string configPath)
        {
            var layers = template.RequiredKeys[0];
            var summary = $"{template.Name} (model_type {template.ModelType}) typed from {configPath}: {values[layers]} layers ({layers}), " +
                $"width {values[template.RequiredKeys[1]]}, {values[template.RequiredKeys[2]]} heads, vocabulary {values["vocab_size"]}.";
            return template.ConfigType is null
                ? summary + $" NnSight.Models does not implement {template.Name} yet: the typed tree compiles, and FromPretrained throws a ConfigException naming the architecture."
                : summary;
        }

        /// <summary>The AdditionalFiles item the attribute names: its path relative to the project, either separator.</summary>
        private static ConfigFile? FindConfig(string configPath, EquatableArray<ConfigFile> files, string? projectDirectory)
        {
            var wanted = Normalize(configPath);
            if (projectDirectory is { Length: > 0 })
            {
                var full = Normalize(projectDirectory.TrimEnd('/', '\\') + "/" + wanted);
                var exact = files.FirstOrDefault(file => Normalize(file.Path) == full);
                if (exact is not null)
                {
                    return exact;
                }
            }
            var bySuffix = files.Where(file => Normalize(file.Path) == wanted || Normalize(file.Path).EndsWith("/" + wanted, StringComparison.Ordinal)).ToList();
            return bySuffix.Count == 1 ? bySuffix[0] : null;
        }

        /// <summary>Forward slashes, <c>.</c> and <c>..</c> segments resolved.</summary>
        private static string Normalize(string path)
        {
            var segments = new List<string>();
            var rooted = path.StartsWith("/", StringComparison.Ordinal) || path.StartsWith("\\", StringComparison.Ordinal);
            foreach (var segment in path.Replace('\\', '/').Split('/'))
            {
                if (segment.Length == 0 || segment == ".")
                {
                    continue;
                }
                if (segment == ".." && segments.Count > 0 && segments[segments.Count - 1] != "..")
                {
                    segments.RemoveAt(segments.Count - 1);
                }
                else
                {
                    segments.Add(segment);
                }
            }
            return (rooted ? "/" : "") + string.Join("/", segments);
        }

        private static (string Module, string Member, string With)? FindCollision(string className, IEnumerable<ModuleSpec> modules)
        {
            var siblings = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var module in modules)
            {
                if (module.PropertyName == className)
                {
                    return (module.DocumentationPath, module.PropertyName, $"the class name {className}");
                }
                if (ReservedMembers.Contains(module.PropertyName))
                {
                    return (module.DocumentationPath, module.PropertyName, $"the inherited member {module.PropertyName}");
                }
                if (siblings.TryGetValue(module.PropertyName, out var other))
                {
                    return (module.DocumentationPath, module.PropertyName, $"the module '{other}'");
                }
                siblings[module.PropertyName] = module.DocumentationPath;
                var nested = FindCollision(className, module.List is { } list ? list.Element.Children : module.Children);
                if (nested is not null)
                {
                    return nested;
                }
            }
            return null;
        }

        private static string Join(string parent, string name) => parent.Length == 0 ? name : name.Length == 0 ? parent : parent + "." + name;

        private static string StripIndices(string path) => string.Join(".", path.Split('.').Where(segment => !segment.StartsWith("{", StringComparison.Ordinal)));

        private static DiagnosticInfo Diagnostic(string id, ModelRequest request, params string[] arguments) =>
            new(id, request.Location, arguments.ToEquatableArray());
    }
}
