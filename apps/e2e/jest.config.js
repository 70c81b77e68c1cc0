import { projectConfig } from '../../jest.preset.js';

export default projectConfig('e2e');
