"""Full screens: main, run detail, help, confirmation and configuration errors."""
