from django import template

register = template.Library()


@register.simple_tag
def holiday_calendar_warning():
    from kameng.core.workdays import running_out_warning

    return running_out_warning()
