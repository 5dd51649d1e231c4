// Backs add-ons up on their schedules (AddonsService.runScheduledBackups), one pass at a time.
export { ScheduledBackups, type ScheduledBackupsOptions } from './scheduled-backups.js';
