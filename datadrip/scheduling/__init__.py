"""The daemon: its timetable, jobs and job runs, and the crontab and systemd export."""
