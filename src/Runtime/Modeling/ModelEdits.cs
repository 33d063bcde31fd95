namespace NnSight;

/// <summary>Persistent edits (nnsight's <c>model.edit</c>): views of a model whose every run applies an intervention.</summary>
public static class ModelEdits
{
    /// <summary>
    /// A view of <paramref name="model"/> of the same class, sharing its modules and weights (no copy), whose every trace
    /// and generation first applies <paramref name="edit"/> to all rows, at every step; <paramref name="model"/> itself is
    /// unchanged. Record the edit with the original model's envoys, as in a trace without an input. Disposing the view
    /// leaves the shared modules alone.
    /// </summary>
    /// <exception cref="TracingException">The model's class cannot make a view of itself.</exception>
    public static TModel Edit<TModel>(this TModel model, Action edit) where TModel : NnSightModel
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.CreateEditedView(edit) as TModel
            ?? throw new TracingException($"{model.GetType().Name}.CreateView returns another class; override it in {model.GetType().Name}.");
    }
}
