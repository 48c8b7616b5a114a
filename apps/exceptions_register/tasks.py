from celery import shared_task

from apps.exceptions_register.services import exception_expire_due, exception_send_reminders


@shared_task(name="exceptions.expire_due")
def expire_due() -> int:
    return exception_expire_due()


@shared_task(name="exceptions.send_reminders")
def send_reminders() -> int:
    return exception_send_reminders()
