from django import forms, template

register = template.Library()


@register.filter
def bootstrap(field):
    """Render a bound form field's widget with Bootstrap 5 classes."""
    widget = field.field.widget
    if isinstance(widget, forms.CheckboxInput):
        css = "form-check-input"
    elif isinstance(widget, forms.Select):
        css = "form-select"
    else:
        css = "form-control"
    if field.errors:
        css += " is-invalid"
    return field.as_widget(attrs={"class": css})
