/** Chat messages as every engine and prompt builder sees them. */
import { z } from 'zod';

export const ChatRole = z.enum(['system', 'user', 'assistant']);
export type ChatRole = z.infer<typeof ChatRole>;

export const ChatMessage = z.object({ role: ChatRole, content: z.string() });
export type ChatMessage = z.infer<typeof ChatMessage>;
