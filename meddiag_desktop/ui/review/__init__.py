"""The AI review screen's widgets: findings panel, overlay layers, colour bar and dialogs."""
