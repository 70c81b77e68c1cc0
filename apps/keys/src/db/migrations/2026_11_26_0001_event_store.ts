import { eventStoreMigration } from '@keyplane/event-store';

export const eventStore = eventStoreMigration('keys');
