"""Staff work on a study: dashboard, worklists, enrolment, invitations, countersigning."""
